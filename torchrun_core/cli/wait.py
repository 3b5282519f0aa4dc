"""Wait until an app reaches a state (default: until it ends).

Exits 0 when the state is reached (for the default, when the app SUCCEEDED),
1 when the app ends without reaching it or the timeout passes.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, NoReturn

from torchrun_core.cli import gc_policy
from torchrun_core.cli.output import add_json_flag, print_json
from torchrun_core.errors import UnexpectedStateError
from torchrun_core.specs.state import AppState

if TYPE_CHECKING:
    from torchrun_core.specs.status import AppStatus


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handle", metavar="HANDLE", help="scheduler://session/app_id")
    parser.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds")
    parser.add_argument(
        "--state",
        type=AppState.parse,
        metavar="STATE",
        help="wait for this state, e.g. RUNNING (default: any terminal state)",
    )
    add_json_flag(parser)


def reached(state: AppState, target: AppState | None) -> bool:
    """Whether an app in ``state`` satisfies waiting for ``target`` (None: success)."""
    if target is None:
        return state is AppState.SUCCEEDED
    if state == target:
        return True
    if state in (AppState.FAILED, AppState.CANCELLED) or target.is_terminal:
        return False  # ending badly (or differently) never satisfies the wait
    return state >= target


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.runner import get_runner

    gc_policy.resume()  # waiting may last for hours
    with get_runner() as runner:
        if not args.json and sys.stderr.isatty():  # a person is watching: show progress
            from torchrun_core.cli.wait_progress import wait_showing_progress

            status = wait_showing_progress(runner, args.handle, args.timeout, args.state)
        else:
            status = runner.wait(args.handle, timeout=args.timeout, state=args.state)
    if args.json:
        print_json(status)
    else:
        sys.stdout.write(f"{status.handle or args.handle} {status.state.value}\n")
    if reached(status.state, args.state):
        return 0
    _raise_not_reached(status, args.handle, args.state)


def _raise_not_reached(status: AppStatus, handle: str, target: AppState | None) -> NoReturn:
    if target is None or target is AppState.SUCCEEDED:
        status.raise_for_status()  # names the failed replica and its exit code
    raise UnexpectedStateError(
        f"app {status.handle or handle} ended {status.state.value} "
        f"without reaching {target.value if target else 'SUCCEEDED'}",
        hint=f"see the logs: torchrun-core log {status.handle or handle}",
        handle=handle,
    )
