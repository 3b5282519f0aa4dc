"""Show the status of an app: its state, and each replica's state and exit code."""

from __future__ import annotations

import argparse
import sys

from torchrun_core.cli.output import add_json_flag, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handle", metavar="HANDLE", help="scheduler://session/app_id")
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.cli.status_view import format_status
    from torchrun_core.runner import get_runner

    with get_runner() as runner:
        status = runner.status(args.handle)
    if args.json:
        print_json(status)
    else:
        sys.stdout.write(format_status(status, args.handle))
    return 0
