"""The run filters ``list`` and ``cancel`` share: which recorded runs they select.

Scheduler, states, an ILIKE name pattern, creation times and the parent run;
``who`` words the help for each command ("only apps" for list, "the live
apps" for cancel).
"""

from __future__ import annotations

import argparse
from typing import Any

from torchrun_core.specs.state import AppState
from torchrun_core.timespec import TIME_FORMS, parse_time


def _states(text: str) -> list[AppState]:
    """One ``--state`` value: a state name or a comma-separated list of them."""
    return [AppState.parse(part) for part in text.split(",") if part.strip()]


def add_run_filters(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, who: str = "only apps"
) -> None:
    """``--scheduler``, ``--state``, ``--name``, ``--since``, ``--until`` and ``--parent``."""
    parser.add_argument("-s", "--scheduler", help=f"{who} of this scheduler")
    parser.add_argument(
        "--state",
        type=_states,
        nargs="+",
        action="append",
        metavar="S",
        help=f"{who} in these states (repeatable; a comma list works too)",
    )
    parser.add_argument(
        "--name",
        metavar="PATTERN",
        help=f"{who} whose name matches this SQL ILIKE pattern: %% any characters, "
        "_ one character, \\ escapes (case-insensitive for ASCII letters)",
    )
    parser.add_argument(
        "--since",
        "--created-after",
        dest="since",
        type=parse_time,
        metavar="T",
        help=f"{who} created at or after T: {TIME_FORMS}",
    )
    parser.add_argument(
        "--until",
        "--created-before",
        dest="until",
        type=parse_time,
        metavar="T",
        help=f"{who} created before T",
    )
    parser.add_argument("--parent", metavar="HANDLE", help=f"{who} whose parent is this run")


def run_filter_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The filters given (None for those not given), as keyword arguments of the Runner."""
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
