"""Cancel apps: the given handles, or the live runs a filter selects.

Cancelling an app that already ended does nothing. The apps are stopped in
parallel; one failure does not stop the others, and the exit code is the
worst of theirs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from torchrun_core.cli.control_output import (
    add_grace_period_flag,
    outcome_exit_code,
    outcome_json,
    print_outcomes,
)
from torchrun_core.cli.output import add_json_flag, print_json
from torchrun_core.cli.timespec import TIME_FORMS, parse_time
from torchrun_core.errors import InvalidInputError
from torchrun_core.specs.state import AppState


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "handles", nargs="*", metavar="HANDLE", help="scheduler://session/app_id (or a filter)"
    )
    parser.add_argument("-s", "--scheduler", help="filter: the live apps of this scheduler")
    parser.add_argument(
        "--state",
        type=AppState.parse,
        nargs="+",
        action="extend",
        metavar="S",
        help="filter: the apps in these live states (repeatable)",
    )
    parser.add_argument(
        "--since", type=parse_time, metavar="T", help=f"filter: submitted after T: {TIME_FORMS}"
    )
    parser.add_argument(
        "--all", action="store_true", help="every live app (needed when no filter is given)"
    )
    add_grace_period_flag(parser)
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.runner import get_runner

    filters = _filters(args)
    if args.handles and (filters or args.all):
        raise InvalidInputError(
            "give handles or a filter (--scheduler, --state, --since, --all), not both"
        )
    if not args.handles and not filters and not args.all:
        raise InvalidInputError(
            "nothing to cancel: give handles or a filter",
            hint="to cancel every live app, say so: torchrun-core cancel --all",
        )
    with get_runner() as runner:
        if args.handles:
            outcomes = runner.cancel_many(args.handles, grace_period=args.grace_period)
        else:
            outcomes = runner.cancel_many(grace_period=args.grace_period, every=args.all, **filters)
    if args.json:
        print_json([outcome_json(o) for o in outcomes])
        return max((outcome_exit_code(o) for o in outcomes), default=0)
    if not outcomes and not args.handles:
        sys.stderr.write("no live app matches\n")
    return print_outcomes(outcomes, "cancelled", args.debug)


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    pairs = {"scheduler": args.scheduler, "states": args.state, "since": args.since}
    return {k: v for k, v in pairs.items() if v is not None}
