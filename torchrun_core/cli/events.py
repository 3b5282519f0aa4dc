"""Print an app's state history: sequence number, time, state and message of each change."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from torchrun_core.cli.output import add_json_flag, format_table, format_time, print_json

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.runstore.record import RunEvent

POLL_S = 0.5  # how often --follow asks the scheduler for news


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handle", metavar="HANDLE", help="scheduler://session/app_id")
    parser.add_argument(
        "--after", type=int, metavar="SEQ", help="only the events after sequence number SEQ"
    )
    parser.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing new events until the app ends (or --timeout)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="with --follow: give up after this long (exit 1)",
    )
    add_json_flag(parser)


def _rows(events: list[RunEvent]) -> list[tuple[object, ...]]:
    return [(e.seq, format_time(e.at), e.state, e.message or None) for e in events]


def _line(seq: str, at: str, state: str, message: str) -> str:
    return f"{seq:<8}  {at:<19}  {state:<11}  {message}".rstrip() + "\n"


def _follow_line(event: RunEvent) -> str:
    return _line(str(event.seq), format_time(event.at), event.state.value, event.message or "-")


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.runner import get_runner

    with get_runner() as runner:
        if args.follow:
            return _follow(runner, args)
        events = runner.events(args.handle, after=args.after)
    if args.json:
        print_json(events)
    else:
        sys.stdout.write(format_table(("SEQ", "AT", "STATE", "MESSAGE"), _rows(events)) + "\n")
    return 0


def _follow(runner: Runner, args: argparse.Namespace) -> int:
    """Print events as they are recorded until the app is terminal; one JSON object a line."""
    from torchrun_core.errors import WaitTimeoutError
    from torchrun_core.limits import check_timeout

    timeout = check_timeout(args.timeout)  # a NaN deadline would never pass
    deadline = None if timeout is None else time.monotonic() + timeout
    last, header = args.after, not args.json
    while True:
        state = runner.status(args.handle).state  # asks the scheduler; records any change
        events = runner.events(args.handle, after=last)
        if events:
            last = events[-1].seq
            if args.json:
                sys.stdout.write("".join(json.dumps(e.to_dict()) + "\n" for e in events))
            else:  # fixed-width lines: a table could not align rows it has not seen yet
                if header:
                    sys.stdout.write(_line("SEQ", "AT", "STATE", "MESSAGE"))
                    header = False
                sys.stdout.write("".join(_follow_line(e) for e in events))
            sys.stdout.flush()
        if state.is_terminal:
            return 0
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeoutError(
                f"app {args.handle} still {state.value} after {args.timeout:g}s",
                handle=args.handle,
            )
        time.sleep(
            POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic()))
        )
