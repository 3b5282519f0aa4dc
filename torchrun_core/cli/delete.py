"""Delete apps: stop each if it runs, clean its scheduler's side, then forget its record.

The local scheduler removes the app's dir and logs; docker its containers,
network and local files. With ``--force``, an app whose scheduler cannot be
asked (plugin not installed, engine unreachable) loses its record anyway.
"""

from __future__ import annotations

import argparse

from torchrun_core.cli.control_output import (
    add_grace_period_flag,
    outcome_exit_code,
    outcome_json,
    print_outcomes,
)
from torchrun_core.cli.output import add_json_flag, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handles", nargs="+", metavar="HANDLE", help="scheduler://session/app_id")
    parser.add_argument(
        "--force",
        action="store_true",
        help="forget the record even when the scheduler cannot be asked "
        "(whatever it still runs is left there)",
    )
    add_grace_period_flag(parser)
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    """Delete each handle in turn; one failure does not stop the others."""
    from torchrun_core.limits import check_grace_period
    from torchrun_core.runner import get_runner
    from torchrun_core.runner.control import ControlOutcome

    check_grace_period(args.grace_period)  # bad input stops everything before anything
    outcomes: list[ControlOutcome] = []
    with get_runner() as runner:
        for handle in args.handles:
            try:
                outcomes.append(runner.delete(handle, args.grace_period, force=args.force))
            except Exception as err:  # reported with the others, below
                outcomes.append(ControlOutcome(handle, error=err))
    if args.json:
        print_json([outcome_json(o) for o in outcomes])
        return max((outcome_exit_code(o) for o in outcomes), default=0)
    return print_outcomes(outcomes, "deleted", args.debug)
