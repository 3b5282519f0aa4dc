"""The files of one local app and the liveness of its supervisor.

Layout of an app dir (``<state_dir>/local/<session>/<app_id>/``)::

    state.json       app + replica states; replaced atomically, ``version`` counts writes
    plan.json        the dry-run plan, secrets redacted (for people, not code)
    supervisor.log   why the supervisor failed, or what it could not do (a log write), if any

and the session dir holds ``.reserve``: disk space that a supervisor gives
up to write a state on a full disk (see :class:`SpaceReserve`).
    logs/            the replicas' logs, unless the ``log_dir`` option put them elsewhere

The supervisor holds an exclusive flock on the app dir itself for its whole
life. Liveness is that lock, not a pid: the kernel releases a dead process's
lock, so pid reuse cannot make a dead app look alive. Standard library only:
the detached supervisor uses this module after fork.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import signal
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrun_core.schedulers.local.plan import LocalPlan

PLAN_FILE = "plan.json"
STATE_FILE = "state.json"
SUPERVISOR_LOG = "supervisor.log"
RESERVE_FILE = ".reserve"  # in the session dir, see SpaceReserve
# Room for many state writes, even of an app with thousands of replicas.
RESERVE_SIZE = 1 << 20

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
SUPERVISOR_DIED = "supervisor died"


def socket_address(app_dir: str) -> bytes:
    """The Linux abstract unix socket the app's supervisor listens on."""
    digest = hashlib.sha256(app_dir.encode()).hexdigest()[:32]
    return b"\0torchrun_core.local." + digest.encode()


def write_json_atomic(path: str, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or new file, never half.

    Raises:
        OSError: ``path`` is unchanged, and no temporary file is left.
    """
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class SpaceReserve:
    """Disk space set aside for a session's apps, given up to record a state on a full disk.

    Without it, a replica (or anything else) filling the disk would leave an
    app's state as it was, and the app could never be recorded as ended.
    One file per session dir (``.reserve``), shared by its supervisors: a
    file per app would cost every submission a file creation.
    """

    def __init__(self, app_dir: str) -> None:
        self.path = os.path.join(os.path.dirname(app_dir), RESERVE_FILE)

    @property
    def held(self) -> bool:
        return os.path.exists(self.path)

    def take(self) -> bool:
        """Set the space aside, unless it is already; False when the disk has no room for it."""
        if self.held:
            return True
        # Made whole under a temporary name: no reader sees it half allocated.
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        except OSError:
            return False
        try:
            os.posix_fallocate(fd, 0, RESERVE_SIZE)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False
        finally:
            os.close(fd)
        return True

    def release(self) -> bool:
        """Give the space back; False when none was held."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return False
        return True


def write_state(app_dir: str, state: dict[str, Any], reserve: SpaceReserve) -> None:
    """Replace the app's ``state.json``; on a full disk, with the reserve's space.

    Raises:
        OSError: it could not be written, even so (the old state stays).
    """
    path = os.path.join(app_dir, STATE_FILE)
    try:
        write_json_atomic(path, state)
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT) or not reserve.release():
            raise
        write_json_atomic(path, state)


def note_supervisor_log(app_dir: str, text: str) -> None:
    """Append ``text`` to the app's supervisor.log (made when first needed).

    Raises:
        OSError: it could not be written (the disk is full, say).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
    fd = os.open(os.path.join(app_dir, SUPERVISOR_LOG), flags, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def read_state(app_dir: str) -> dict[str, Any] | None:
    """The app's last written state, or None when there is none (yet)."""
    # os-level I/O: this is most of what a describe costs.
    try:
        fd = os.open(f"{app_dir}/{STATE_FILE}", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        chunks = [os.read(fd, 1 << 16)]
        while len(chunks[-1]) == 1 << 16:
            chunks.append(os.read(fd, 1 << 20))
    finally:
        os.close(fd)
    data: dict[str, Any] = json.loads(b"".join(chunks))
    return data


def initial_state(plan: LocalPlan, created_at: float) -> dict[str, Any]:
    """The state before the supervisor runs: SUBMITTED, every replica PENDING."""
    return {
        "version": 0,
        "app_id": plan.app_id,
        "app_name": plan.app_name,
        "session": plan.session,
        "log_dir": plan.log_dir,
        "grace_period": plan.grace_period,
        "state": "SUBMITTED",
        "message": "",
        "num_restarts": 0,
        "created_at": created_at,
        "finished_at": None,
        "supervisor": None,
        "roles": [
            {"role": role.name, "replicas": [new_replica_state(r.replica_id) for r in rs]}
            for role in plan.roles
            for rs in [role.replicas]
        ],
    }


def new_replica_state(replica_id: int) -> dict[str, Any]:
    return {
        "id": replica_id,
        "state": "PENDING",
        "attempt": 0,
        "attempt_done": False,  # True once this attempt's logs are complete
        "exit_code": None,
        "pid": None,
        "pid_start": None,
        "started_at": None,
        "finished_at": None,
        "message": "",
    }


# -- processes ---------------------------------------------------------------
def proc_stat(pid: int | str) -> list[bytes] | None:
    """``/proc/<pid>/stat`` from field 3 (state) on, None when no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # comm (field 2) may contain spaces or parens: split after the last ')'.
    return stat[stat.rfind(b")") + 2 :].split()


def proc_start_time(pid: int) -> int | None:
    """The start time (clock ticks after boot) of ``pid``, None when no such process."""
    fields = proc_stat(pid)
    return None if fields is None else int(fields[19])


def kill_group(pgid: int | None, leader_start: int | None, sig: int = signal.SIGKILL) -> bool:
    """Signal process group ``pgid`` unless its id now belongs to someone else.

    A pgid stays reserved while any member lives, so when a process ``pgid``
    exists with another start time, the group we started is gone.
    Returns whether a group received the signal.
    """
    if not pgid:
        return False
    start = proc_start_time(pgid)
    if start is not None and leader_start is not None and start != leader_start:
        return False
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# -- supervisor liveness -----------------------------------------------------
def open_lock(app_dir: str) -> int:
    """A descriptor to flock for the app's supervisor lock (the app dir itself)."""
    return os.open(app_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


@contextlib.contextmanager
def dead_supervisor_lock(app_dir: str) -> Iterator[bool]:
    """Yield True, holding the app's lock, when its supervisor is not running.

    Yields False (holding nothing) while the supervisor holds the lock.
    """
    try:
        fd = open_lock(app_dir)
    except FileNotFoundError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            yield False
            return
        yield True
    finally:
        os.close(fd)


def settle_state(
    app_dir: str,
    state: dict[str, Any] | None,
    end_as: str = "FAILED",
    why: str = SUPERVISOR_DIED,
) -> dict[str, Any] | None:
    """``state``, or ``end_as`` (FAILED) if the supervisor died before ending the app.

    A non-terminal state is only trusted while the supervisor holds its lock.
    When the lock is free, the state is read again under the lock (the
    supervisor writes its final state before exiting); if still not
    terminal, the leftover replica groups are killed and ``end_as`` is recorded.
    """
    if state is None or state.get("state") in TERMINAL:
        return state
    with dead_supervisor_lock(app_dir) as dead:
        if not dead:
            return state
        state = read_state(app_dir)
        if state is None or state.get("state") in TERMINAL:
            return state
        return _end_without_supervisor(app_dir, state, end_as, why)


def _end_without_supervisor(
    app_dir: str, state: dict[str, Any], end_as: str, why: str
) -> dict[str, Any]:
    now = time.time()
    for role in state["roles"]:
        for rep in role["replicas"]:
            if rep["state"] in TERMINAL:
                continue
            if rep["state"] == "RUNNING":
                kill_group(rep["pid"], rep["pid_start"])
            rep.update(state=end_as, attempt_done=True, finished_at=now, message=f"lost: {why}")
    sup = state.get("supervisor") or {}
    pid = f" (pid {sup['pid']})" if sup.get("pid") else ""
    state.update(
        state=end_as,
        message=f"{why}{pid}; its replicas were killed",
        finished_at=now,
        version=state["version"] + 1,
    )
    write_state(app_dir, state, SpaceReserve(app_dir))
    return state
