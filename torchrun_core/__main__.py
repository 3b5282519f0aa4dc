"""``python -m torchrun_core``."""

import sys

from torchrun_core.cli.main import main

sys.exit(main())
