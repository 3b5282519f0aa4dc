"""Cancel apps. Cancelling an app that already ended does nothing."""

from __future__ import annotations

import argparse
import sys

from torchrun_core.cli.error_printer import report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handles", nargs="+", metavar="HANDLE", help="scheduler://session/app_id")


def execute(args: argparse.Namespace) -> int:
    """Cancel each handle in turn; one failure does not stop the others."""
    from torchrun_core.runner import get_runner

    code = 0
    with get_runner() as runner:
        for handle in args.handles:
            try:
                runner.cancel(handle)
            except Exception as err:
                code = max(code, report(err, args.debug))
                continue
            sys.stdout.write(f"cancelled {handle}\n")
            sys.stdout.flush()
    return code
