"""Show the effective configuration: every setting, its value and where it came
from (a config file and line, an environment variable, or the default).

The settings come from, highest precedence first: the command line, the
TORCHRUN_CORE_* environment, the project config (the nearest
.torchrun_core.toml, torchrun_core.toml or pyproject.toml [tool.torchrun_core]
from the current directory up), the user config, then the defaults. The run
options of the schedulers in play are checked as they would be by run.
See docs/configuration.md.
"""

from __future__ import annotations

import argparse
import sys

from torchrun_core.cli.output import add_json_flag, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        default="show",
        choices=["show"],
        help="show: print the effective config and each value's source (the default)",
    )
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.config import load_config
    from torchrun_core.config.view import config_view

    view = config_view(load_config())
    if args.json:
        print_json(view.to_dict())
    else:
        sys.stdout.write(view.to_text())
    return 0
