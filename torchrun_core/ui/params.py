"""Query parameters read into the Runner's arguments; bad ones raise InvalidInputError (400)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from torchrun_core.errors import InvalidInputError
from torchrun_core.specs.handle import parse_handle
from torchrun_core.specs.state import AppState
from torchrun_core.timespec import parse_time


def text(request: Request, name: str) -> str | None:
    """The parameter, None when absent or empty (an empty filter box filters nothing)."""
    value = request.query_params.get(name)
    return value if value else None


def handle(request: Request, name: str = "handle") -> str:
    value = text(request, name)
    if value is None:
        raise InvalidInputError(f"missing parameter {name!r}", hint="give a run's handle")
    return str(parse_handle(value))


def integer(
    request: Request, name: str, default: int | None, lo: int = 0, hi: int = 2**63 - 1
) -> int | None:
    value = text(request, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = lo - 1
    if not lo <= number <= hi:
        raise InvalidInputError(
            f"invalid {name} {value!r}", hint=f"use a whole number from {lo} to {hi}"
        )
    return number


def run_filters(request: Request) -> dict[str, Any]:
    """The ``list`` filters: scheduler, states (a comma list), name, since, until, parent."""
    states = text(request, "state")
    since, until, parent = text(request, "since"), text(request, "until"), text(request, "parent")
    return {
        "scheduler": text(request, "scheduler"),
        "states": None
        if states is None
        else [AppState.parse(s) for s in states.split(",") if s.strip()],
        "name": text(request, "name"),
        "since": None if since is None else parse_time(since),
        "until": None if until is None else parse_time(until),
        "parent": None if parent is None else str(parse_handle(parent)),
    }
