"""Print the output of an app's replicas.

TARGET is HANDLE (every replica), HANDLE/ROLE (every replica of the role) or
HANDLE/ROLE/REPLICA. Lines are prefixed with `role/replica ` when several
replicas are shown. --since/--until take unix seconds, ISO-8601 times, or
ages such as 30s, 5m, 2h ("that long ago").
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import InvalidInputError, MalformedHandleError
from torchrun_core.specs.handle import AppHandle
from torchrun_core.timespec import TIME_FORMS, parse_time

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.specs.replicas import ReplicaRef

TARGET_FORM = "HANDLE[/ROLE[/REPLICA]], e.g. local://default/echo-1a2b3c/echo/0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="HANDLE[/ROLE[/REPLICA]]")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    parser.add_argument("--regex", metavar="R", help="only lines matching this regex")
    parser.add_argument("--since", type=parse_time, metavar="T", help=f"from T: {TIME_FORMS}")
    parser.add_argument("--until", type=parse_time, metavar="T", help="up to T (same forms)")
    parser.add_argument(
        "--streams",
        choices=("stdout", "stderr", "combined"),
        default=None,
        help="which output to show (default: combined)",
    )
    parser.add_argument(
        "--attempt", type=int, metavar="N", help="only attempt N of a retried replica (0: first)"
    )


def parse_target(text: str) -> tuple[str, str | None, int | None]:
    """``HANDLE[/ROLE[/REPLICA]]`` -> (handle, role or None, replica or None).

    Raises:
        MalformedHandleError: the handle part is malformed.
        InvalidInputError: the replica is not a number.
    """
    scheme, sep, rest = text.partition("://")
    parts = rest.split("/")
    if not sep or not 2 <= len(parts) <= 4:
        raise MalformedHandleError(
            f"malformed log target {text!r}", hint=f"expected {TARGET_FORM}", handle=text
        )
    handle = str(AppHandle.parse(f"{scheme}://{parts[0]}/{parts[1]}"))
    role = parts[2] if len(parts) > 2 and parts[2] else None
    replica: int | None = None
    if len(parts) == 4:
        if not parts[3].isdigit():
            raise InvalidInputError(
                f"replica {parts[3]!r} in {text!r} is not a number", hint=f"expected {TARGET_FORM}"
            )
        replica = int(parts[3])
    return handle, role, replica


def _select(runner: Runner, handle: str, role: str | None, replica: int | None) -> list[ReplicaRef]:
    from torchrun_core.specs.replicas import ReplicaRef, replicas_of, replicas_of_status

    if role is not None and replica is not None:
        return [ReplicaRef(role, replica)]
    record = runner.describe(handle)
    if record.app is not None:
        roles = record.app.role_names
        refs = replicas_of(record.app, role) if role is None or role in roles else []
    else:  # known to the scheduler only: its status lists the replicas
        status = record.status or runner.status(handle)
        roles = [r.role for r in status.roles]
        refs = replicas_of_status(status, role)
    if not refs:
        raise InvalidInputError(
            f"app {handle} has no role {role!r}", hint=f"its roles: {', '.join(roles)}"
        )
    return refs


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.cli.log_stream import print_logs
    from torchrun_core.runner import get_runner
    from torchrun_core.scheduler import Stream

    handle, role, replica = parse_target(args.target)
    filters: dict[str, Any] = {
        "regex": args.regex,
        "since": args.since,
        "until": args.until,
        "streams": Stream(args.streams) if args.streams else None,
        "attempt": args.attempt,
    }
    with get_runner() as runner:
        replicas = _select(runner, handle, role, replica)
        print_logs(runner, handle, replicas, follow=args.follow, **filters)
    return 0
