"""List the apps recorded in the run store: filtered, sorted, one page at a time."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from torchrun_core.cli.output import add_json_flag, format_time, print_json, print_table
from torchrun_core.cli.timespec import TIME_FORMS, parse_time
from torchrun_core.errors import InvalidInputError
from torchrun_core.specs.state import AppState

DEFAULT_LIMIT = 100
SORTS = ("newest", "oldest", "name")  # as torchrun_core.run_query.SORTS, without importing it


def _states(text: str) -> list[AppState]:
    """One ``--state`` value: a state name or a comma-separated list of them."""
    return [AppState.parse(part) for part in text.split(",") if part.strip()]


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidInputError(
            f"invalid --limit {text!r}", hint="use a whole number of runs; 0 lists them all"
        )
    return value


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The run filters: scheduler, states, name pattern, creation times and parent run."""
    parser.add_argument("-s", "--scheduler", help="only apps of this scheduler")
    parser.add_argument(
        "--state",
        type=_states,
        nargs="+",
        action="append",
        metavar="S",
        help="only apps in these states (repeatable; a comma list works too)",
    )
    parser.add_argument(
        "--name",
        metavar="PATTERN",
        help="only apps whose name matches this SQL ILIKE pattern: %% any characters, "
        "_ one character, \\ escapes (case-insensitive for ASCII letters)",
    )
    parser.add_argument(
        "--since",
        "--created-after",
        dest="since",
        type=parse_time,
        metavar="T",
        help=f"only apps created at or after T: {TIME_FORMS}",
    )
    parser.add_argument(
        "--until",
        "--created-before",
        dest="until",
        type=parse_time,
        metavar="T",
        help="only apps created before T",
    )
    parser.add_argument("--parent", metavar="HANDLE", help="only the children of this run")


def filter_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``Runner.list`` that ``add_filter_arguments`` parsed."""
    states = None
    if args.state is not None:  # one list per --state, holding one list per value
        states = [s for option in args.state for value in option for s in value]
    return {
        "scheduler": args.scheduler,
        "states": states,
        "name": args.name,
        "since": args.since,
        "until": args.until,
        "parent": args.parent,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_filter_arguments(parser)
    parser.add_argument(
        "--sort",
        choices=SORTS,
        default="newest",
        help="newest first (default), oldest first, or by name (then oldest first)",
    )
    parser.add_argument(
        "--limit",
        type=_limit,
        default=DEFAULT_LIMIT,
        metavar="N",
        help=f"at most N apps (default {DEFAULT_LIMIT}; 0: all)",
    )
    parser.add_argument(
        "--cursor", metavar="C", help="the page after the one that printed this cursor"
    )
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.cli.app_view import record_json
    from torchrun_core.runner import get_runner

    with get_runner() as runner:
        page = runner.list(
            **filter_kwargs(args),
            limit=args.limit or None,
            sort=args.sort,
            cursor=args.cursor,
        )
    if args.json:
        print_json([record_json(r) for r in page])
    else:
        rows = [(r.handle, r.state, r.app_name, format_time(r.created_at)) for r in page]
        print_table(("HANDLE", "STATE", "NAME", "CREATED"), rows)
    if page.next_cursor is not None:
        # On stderr, so that stdout stays the table or the JSON list.
        sys.stderr.write(f"next page: --cursor {page.next_cursor}\n")
    return 0
