"""The run filters of ``cancel``: which recorded live runs it selects.

The same filters as ``list`` (scheduler, states, ILIKE name pattern,
creation times, parent run), with help saying they select what to cancel.
"""

from __future__ import annotations

import argparse
from typing import Any

from torchrun_core.cli.timespec import TIME_FORMS, parse_time
from torchrun_core.specs.state import AppState


def _states(text: str) -> list[AppState]:
    """One ``--state`` value: a state name or a comma-separated list of them."""
    return [AppState.parse(part) for part in text.split(",") if part.strip()]


def add_selecting_filters(parser: argparse.ArgumentParser) -> None:
    """``--scheduler``, ``--state``, ``--name``, ``--since``, ``--until`` and ``--parent``."""
    group = parser.add_argument_group("filter (instead of handles)")
    group.add_argument("-s", "--scheduler", help="the live apps of this scheduler")
    group.add_argument(
        "--state",
        type=_states,
        action="extend",
        metavar="S",
        help="the apps in these live states (repeatable; a comma list works too)",
    )
    group.add_argument(
        "--name",
        metavar="PATTERN",
        help="the apps whose name matches this SQL ILIKE pattern (as for list)",
    )
    group.add_argument(
        "--since",
        type=parse_time,
        metavar="T",
        help=f"the apps created at or after T: {TIME_FORMS}",
    )
    group.add_argument("--until", type=parse_time, metavar="T", help="the apps created before T")
    group.add_argument("--parent", metavar="HANDLE", help="the children of this run")


def selecting_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The filters given, as keyword arguments of ``Runner.cancel_many``."""
    states = None if args.state is None else [s for value in args.state for s in value]
    given = {
        "scheduler": args.scheduler,
        "states": states,
        "name": args.name,
        "since": args.since,
        "until": args.until,
        "parent": args.parent,
    }
    return {k: v for k, v in given.items() if v is not None}
