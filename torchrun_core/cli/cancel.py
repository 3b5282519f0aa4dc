"""Cancel apps: the given handles, or the live runs a filter selects.

Cancelling an app that already ended does nothing. The apps are stopped in
parallel; one failure does not stop the others, and the exit code is the
worst of theirs.
"""

from __future__ import annotations

import argparse
import sys

from torchrun_core.cli.control_output import (
    add_grace_period_flag,
    outcome_exit_code,
    outcome_json,
    print_outcomes,
)
from torchrun_core.cli.output import add_json_flag, print_json
from torchrun_core.cli.run_filters import add_run_filters, run_filter_kwargs
from torchrun_core.errors import InvalidInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "handles", nargs="*", metavar="HANDLE", help="scheduler://session/app_id (or a filter)"
    )
    add_run_filters(parser.add_argument_group("filter (instead of handles)"), who="the live apps")
    parser.add_argument(
        "--all", action="store_true", help="every live app (needed when no filter is given)"
    )
    add_grace_period_flag(parser)
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.runner import get_runner

    filters = {k: v for k, v in run_filter_kwargs(args).items() if v is not None}
    if args.handles and (filters or args.all):
        raise InvalidInputError("give handles or a filter (--scheduler, --all...), not both")
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
