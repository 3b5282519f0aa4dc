"""Start an app's supervisor, detached from the launching process.

The launcher prepares everything a reader needs before it returns: the app
dir, ``plan.json``, the initial ``state.json``, the supervisor lock (held)
and the bound listening socket. Then it forks; the child starts a new
session and forks again, so the supervisor is never the launcher's zombie,
and runs the supervisor loop in the grandchild. No fresh interpreter boots
and nothing new is imported: the launcher pays for two forks only.

The grandchild keeps exactly three descriptors besides 0-2 (which go to
/dev/null and ``supervisor.log``): the lock, the socket, nothing of the
caller's, so ``out=$(torchrun-core run ...)`` never waits for it.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import json
import os
import resource
import signal
import socket
import traceback
from typing import Any

from torchrun_core.errors import BackendError, InvalidInputError
from torchrun_core.schedulers.local_plan import LocalPlan
from torchrun_core.schedulers.local_state import (
    LOCK_FILE,
    PLAN_FILE,
    STATE_FILE,
    SUPERVISOR_LOG,
    initial_state,
    socket_address,
    write_json_atomic,
)
from torchrun_core.schedulers.local_supervisor import Supervisor

_PR_SET_CHILD_SUBREAPER = 36


def launch(plan: LocalPlan) -> None:
    """Write the app's files and start its detached supervisor.

    Raises:
        InvalidInputError: the plan was scheduled before.
        BackendError: the app dir or the supervisor could not be created.
    """
    app_dir = plan.app_dir
    try:
        os.makedirs(os.path.dirname(app_dir), exist_ok=True)
        os.mkdir(app_dir, 0o700)
    except FileExistsError:
        raise InvalidInputError(
            f"local app {plan.app_id!r} was already scheduled",
            hint="make a new dry run for each submission",
            app_id=plan.app_id,
        ) from None
    except OSError as err:
        raise BackendError(f"cannot create {app_dir}: {err.strerror}") from None
    lock_fd = os.open(os.path.join(app_dir, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    # Held from now until the supervisor exits (the forks share this lock).
    fcntl.flock(lock_fd, fcntl.LOCK_EX)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    log_fd = -1
    try:
        listener.bind(socket_address(app_dir))
        listener.listen(128)
        state = _write_files(plan)
        log_fd = os.open(
            os.path.join(app_dir, SUPERVISOR_LOG),
            os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
            0o600,
        )
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, reported via supervisor.log
            _become_supervisor(plan, listener, lock_fd, log_fd, state)
        # The intermediate child exits right after its fork.
        if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0:
            raise OSError(f"the detaching process failed; see {app_dir}/{SUPERVISOR_LOG}")
    except OSError as err:
        raise BackendError(f"cannot start the supervisor of {plan.app_id}: {err}") from None
    finally:
        listener.close()
        os.close(lock_fd)
        if log_fd >= 0:
            os.close(log_fd)


def _write_files(plan: LocalPlan) -> dict[str, Any]:
    with open(os.path.join(plan.app_dir, PLAN_FILE), "w", encoding="utf-8") as f:
        json.dump(plan.to_dict(redact=True), f, indent=1)
    state = initial_state(
        plan.app_id,
        plan.app_name,
        plan.session,
        plan.log_dir,
        plan.grace_period,
        [(r.name, len(r.replicas)) for r in plan.roles],
    )
    write_json_atomic(os.path.join(plan.app_dir, STATE_FILE), state)
    return state


def _become_supervisor(  # pragma: no cover - runs in the forked child
    plan: LocalPlan, listener: socket.socket, lock_fd: int, log_fd: int, state: dict[str, Any]
) -> None:
    """In the forked child: detach, then run the supervisor; never returns."""
    # Objects inherited from the launcher must never be collected here: their
    # finalizers could close descriptor numbers this process reuses.
    gc.freeze()
    code = 1
    try:
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        _detach_fds(log_fd, keep={lock_fd, listener.fileno()})
        _reset_process()
        Supervisor(plan, listener, state).run()
        code = 0
    except BaseException:
        try:
            os.write(2, traceback.format_exc().encode())
        except BaseException:
            pass
    os._exit(code)


def _detach_fds(log_fd: int, keep: set[int]) -> None:  # pragma: no cover - child only
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    keep = keep | {0, 1, 2}
    low = 0
    for fd in sorted(keep):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _reset_process() -> None:  # pragma: no cover - child only
    os.chdir("/")  # do not pin the launcher's cwd (replicas get absolute cwds)
    try:
        signal.set_wakeup_fd(-1)  # the launcher's (e.g. asyncio's) is closed now
    except ValueError:
        pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, 0)
    # Adopt the replicas' orphans, so that they are reaped even where pid 1 does not.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    # Two pipes and six log files per replica: raise the soft fd limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
