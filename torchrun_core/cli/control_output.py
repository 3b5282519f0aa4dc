"""What ``cancel`` and ``delete`` share: the grace period flag and per-app outcome output."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from torchrun_core.cli.error_printer import report

if TYPE_CHECKING:
    from torchrun_core.runner.control import ControlOutcome


def add_grace_period_flag(parser: argparse.ArgumentParser) -> None:
    """``--grace-period SECONDS``, shared with ``delete``."""
    parser.add_argument(
        "--grace-period",
        type=float,
        metavar="SECONDS",
        help="seconds between the polite stop and the kill, instead of the app's own "
        "(it shortens a stop, never lengthens it)",
    )


def print_outcomes(outcomes: list[ControlOutcome], done: str, debug: bool) -> int:
    """``<done> HANDLE`` per success, the error of each failure; returns the worst exit code."""
    code = 0
    for outcome in outcomes:
        if outcome.error is not None:
            code = max(code, report(outcome.error, debug))
            continue
        sys.stdout.write(f"{done} {outcome.handle}\n")
        if outcome.note:
            sys.stdout.flush()
            sys.stderr.write(f"warning: {outcome.note}\n")
        sys.stdout.flush()
    return code


def outcome_json(outcome: ControlOutcome) -> dict[str, Any]:
    """The JSON form of one outcome: handle, ok, state, error, note."""
    return {
        "handle": outcome.handle,
        "ok": outcome.ok,
        "state": None if outcome.state is None else outcome.state.value,
        "error": None if outcome.error is None else str(outcome.error),
        "note": outcome.note or None,
    }


def outcome_exit_code(outcome: ControlOutcome) -> int:
    """0 for a success, else the exit code of its error (1 for one outside the hierarchy)."""
    if outcome.error is None:
        return 0
    return int(getattr(outcome.error, "exit_code", 1))
