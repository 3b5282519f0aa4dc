"""Print the output of several replicas: one after another, or interleaved while they run."""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.specs.app import AppDef
    from torchrun_core.specs.status import AppStatus

# Bounded so that a fast producer waits for a slow terminal instead of filling memory.
_QUEUE_SIZE = 10_000


@dataclass(frozen=True)
class ReplicaRef:
    """One replica of one role."""

    role: str
    replica: int

    def __str__(self) -> str:
        return f"{self.role}/{self.replica}"


def replicas_of(app: AppDef, role: str | None = None) -> list[ReplicaRef]:
    """Every replica of ``app`` (or of its role ``role``), in role order."""
    roles = [app.role(role)] if role is not None else app.roles
    return [ReplicaRef(r.name, k) for r in roles for k in range(r.num_replicas)]


def replicas_of_status(status: AppStatus, role: str | None = None) -> list[ReplicaRef]:
    """The replicas an AppStatus reports (of role ``role`` only, if given)."""
    return [
        ReplicaRef(rs.role, r.id)
        for rs in status.roles
        if role is None or rs.role == role
        for r in rs.replicas
    ]


def print_logs(
    runner: Runner,
    handle: str,
    replicas: Sequence[ReplicaRef],
    *,
    follow: bool,
    **filters: Any,
) -> None:
    """Write every line of ``replicas`` to stdout.

    Lines are prefixed with ``role/replica `` only when there are several
    replicas. With ``follow``, replicas are read concurrently (until the app
    ends) and lines are flushed as they come; otherwise each replica's lines
    are written in turn. ``filters`` go to ``Runner.log_lines``.
    """
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")  # an app may print any bytes
    prefixed = len(replicas) > 1
    # Opened here, in this thread, so that an unknown app or role fails at once.
    sources = [
        (
            f"{ref} " if prefixed else "",
            runner.log_lines(handle, ref.role, ref.replica, should_tail=follow, **filters),
        )
        for ref in replicas
    ]
    if follow:
        _interleave(sources)
    else:
        for prefix, lines in sources:
            _write_lines(prefix, lines)
    sys.stdout.flush()


def _complete(line: str) -> str:
    # A file's last line may lack its newline; never glue it to another replica's line.
    return line if line.endswith("\n") else line + "\n"


def _write_lines(prefix: str, lines: Iterable[str]) -> None:
    write = sys.stdout.write
    for line in lines:
        write(prefix + _complete(line))


class _Done:
    """Marks the end of one replica's lines, carrying the error that ended it, if any."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def _pump(prefix: str, lines: Iterator[str], out: queue.Queue[str | _Done]) -> None:
    try:
        for line in lines:
            out.put(prefix + _complete(line))
    except BaseException as err:  # handed to the main thread, which raises it
        out.put(_Done(err))
    else:
        out.put(_Done())


def _interleave(sources: Sequence[tuple[str, Iterator[str]]]) -> None:
    out: queue.Queue[str | _Done] = queue.Queue(_QUEUE_SIZE)
    for prefix, lines in sources:
        # Daemons: on Ctrl-C the main thread returns without waiting for them.
        threading.Thread(target=_pump, args=(prefix, lines, out), daemon=True).start()
    active = len(sources)
    write = sys.stdout.write
    while active:
        item = out.get()
        if isinstance(item, _Done):
            active -= 1
            if item.error is not None:
                raise item.error
            continue
        write(item)
        if out.empty():  # flush when caught up, not per line: cheap and still live
            sys.stdout.flush()
