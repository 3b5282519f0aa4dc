"""List the apps submitted from this machine, newest first."""

from __future__ import annotations

import argparse

from torchrun_core.cli.output import add_json_flag, format_time, print_json, print_table
from torchrun_core.cli.timespec import TIME_FORMS, parse_time
from torchrun_core.specs.state import AppState


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--scheduler", help="only apps of this scheduler")
    parser.add_argument(
        "--state",
        type=AppState.parse,
        nargs="+",
        action="extend",
        metavar="S",
        help="only apps in these states (repeatable)",
    )
    parser.add_argument(
        "--since", type=parse_time, metavar="T", help=f"submitted after T: {TIME_FORMS}"
    )
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.cli.app_view import record_json
    from torchrun_core.runner import get_runner

    with get_runner() as runner:
        records = runner.list(scheduler=args.scheduler, states=args.state, since=args.since)
    records = sorted(records, key=lambda r: r.created_at or 0, reverse=True)
    if args.json:
        print_json([record_json(r) for r in records])
        return 0
    rows = [(r.handle, r.state, r.app_name, format_time(r.created_at)) for r in records]
    print_table(("HANDLE", "STATE", "NAME", "CREATED"), rows)
    return 0
