"""List the apps recorded in the run store: filtered, sorted, one page at a time."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from torchrun_core.cli.output import add_json_flag, format_time, print_json, print_table
from torchrun_core.cli.run_filters import add_run_filters, run_filter_kwargs
from torchrun_core.errors import InvalidInputError

if TYPE_CHECKING:
    from torchrun_core.runstore.record import RunPage, RunRecord

DEFAULT_LIMIT = 100
SORTS = ("newest", "oldest", "name")  # as torchrun_core.runstore.query.SORTS, without importing it


# After the state of a row whose scheduler could not be asked (its recorded state).
STALE_MARK = "(stale)"


def _state_cell(record: RunRecord) -> str:
    return f"{record.state} {STALE_MARK}" if record.stale else str(record.state)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    # The store compares it as a signed 64-bit SQLite INTEGER (torchrun_core.limits).
    if not 0 <= value < 2**63:
        raise InvalidInputError(
            f"invalid --limit {text!r}",
            hint=f"use a whole number of runs up to {2**63 - 1}; 0 lists them all",
        )
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_filters(parser)
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


def _recorded_page(args: argparse.Namespace) -> RunPage | None:
    """The page straight from the run store, when no scheduler could change it; else None.

    Only runs not yet terminal can change, and only they make ``list`` ask
    their schedulers: when the page holds none (and, with a state filter, no
    live run matches the other filters), the store's answer is the Runner's,
    without importing the Runner, pydantic and the plugins (most of the
    command's time).
    """
    from torchrun_core.runstore import RunStore
    from torchrun_core.specs.handle import parse_handle
    from torchrun_core.specs.state import LIVE_STATES

    filters = run_filter_kwargs(args)
    if filters["parent"] is not None:
        filters["parent"] = str(parse_handle(filters["parent"]))
    store = RunStore()
    try:
        if filters["states"] is not None:
            live = {**filters, "states": LIVE_STATES}
            if store.list(**live, limit=1):
                return None
        page = store.list(**filters, limit=args.limit or None, sort=args.sort, cursor=args.cursor)
    finally:
        store.close()
    return None if any(not r.state.is_terminal for r in page) else page


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.cli.app_view import record_json

    page = _recorded_page(args)
    if page is None:
        from torchrun_core.runner import get_runner

        with get_runner() as runner:
            page = runner.list(
                **run_filter_kwargs(args),
                limit=args.limit or None,
                sort=args.sort,
                cursor=args.cursor,
            )
    if args.json:
        print_json([record_json(r) for r in page])
    else:
        rows = [(r.handle, _state_cell(r), r.app_name, format_time(r.created_at)) for r in page]
        print_table(("HANDLE", "STATE", "NAME", "CREATED"), rows)
    # One line per reason, on stderr: stdout stays the table or the JSON list.
    for reason in dict.fromkeys(r.stale for r in page if r.stale):
        sys.stderr.write(
            f"warning: {STALE_MARK} marks a recorded state, not a fresh one: {reason}\n"
        )
    if page.next_cursor is not None:
        # On stderr, so that stdout stays the table or the JSON list.
        sys.stderr.write(f"next page: --cursor {page.next_cursor}\n")
    return 0
