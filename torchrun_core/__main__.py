"""``python -m torchrun_core``."""

import sys

from torchrun_core.cli.main import console_main

sys.exit(console_main())
