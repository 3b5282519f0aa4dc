"""Write-ahead marks: which process is launching a recorded app, and whether it still can.

The Runner records an app in the run store *before* it asks the scheduler to
launch it, with a :class:`LaunchMark` naming the launching process (see
:mod:`torchrun_core.runner.write_ahead`). The mark is cleared once the scheduler has
answered. A mark that stays tells later readers, in any process, that the
launch is in flight, or, once its process is gone, that it was interrupted
(``kill -9``, a crash, a power cut) and must be resolved against the
scheduler. Nothing here imports sqlite or pydantic.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from dataclasses import asdict, dataclass

# A launch from another machine (a state dir on a shared filesystem) cannot be
# checked for life: it counts as in flight for this long after it began.
OTHER_HOST_LIMIT_S = 3600.0
# The app id a record gets until a scheduler that picks ids at submission
# (slurm's job id) has answered; it never names an app on any scheduler.
PROVISIONAL_PREFIX = "unsubmitted-"

# Tokens of the launches this process is carrying out now: a mark with this
# process's pid is alive only while its token is here (a launch that raised
# KeyboardInterrupt left its record, but is over).
_ACTIVE: set[str] = set()


@dataclass(frozen=True)
class LaunchMark:
    """Who launches a recorded app, and whether the scheduler can be asked about it.

    Attributes:
        host: the launching machine's name.
        pid: the launching process.
        started: that process's start time (Linux clock ticks since boot),
            so that a reused pid is not taken for the launcher; None elsewhere.
        id_known: the app id was fixed at dry run (local, docker,
            kubernetes), so the scheduler can be asked whether it launched;
            False when the scheduler gives the id only on submission (slurm).
        at: when the launch began (unix time).
        token: tells this process's own launches apart.
    """

    host: str
    pid: int
    started: int | None
    id_known: bool
    at: float
    token: str

    @classmethod
    def begin(cls, id_known: bool) -> LaunchMark:
        """A mark for a launch this process starts now; alive until :meth:`end`."""
        pid = os.getpid()
        mark = cls(
            socket.gethostname(), pid, _start_time(pid), id_known, time.time(),
            secrets.token_hex(8),
        )  # fmt: skip
        _ACTIVE.add(mark.token)
        return mark

    def end(self) -> None:
        """This process is done with the launch (it answered, failed or was interrupted)."""
        _ACTIVE.discard(self.token)

    @property
    def launcher(self) -> str:
        """The launching process as people read it: ``pid 123 on host``."""
        return f"pid {self.pid} on {self.host}"

    def in_flight(self) -> bool:
        """Whether the launching process may still finish the launch (and update the record)."""
        if self.host != socket.gethostname():
            return time.time() - self.at < OTHER_HOST_LIMIT_S
        if self.pid == os.getpid():
            return self.token in _ACTIVE
        return _alive(self.pid, self.started)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LaunchMark:
        """The mark stored as ``text``; a garbled one reads as an interrupted launch."""
        try:
            data = json.loads(text)
            return cls(
                str(data["host"]), int(data["pid"]),
                None if data.get("started") is None else int(data["started"]),
                bool(data["id_known"]), float(data["at"]), str(data["token"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return cls("", 0, None, False, 0.0, "")


def provisional_app_id() -> str:
    """An app id for a record whose scheduler has not given one yet."""
    return PROVISIONAL_PREFIX + secrets.token_hex(6)


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), else None."""
    stat = _proc_stat(pid)
    return None if stat is None else stat[1]


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """The process's state letter and start time from ``/proc/PID/stat``; None if unreadable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces or parentheses: split after its last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode(), int(fields[19])  # fields 3 and 22 overall
    except (IndexError, ValueError):
        return None


def _alive(pid: int, started: int | None) -> bool:
    """Whether process ``pid`` (started at ``started``, when known) still runs."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: the signal check is all there is
    state, now = stat
    # A zombie (killed, not yet reaped by its parent) launches nothing more;
    # another start time means the pid was reused.
    return state not in ("Z", "X") and (started is None or now == started)
