"""Start an app's supervisor, detached from the launching process.

The launcher prepares everything a reader needs before ``schedule``
returns: the app dir, the initial ``state.json``, the supervisor lock (held)
and the bound listening socket. It then hands the
plan, its environment and those descriptors to the spawner
(``spawner``), a helper forked once per launcher process, which
forks the app's supervisor. The launcher never waits for an interpreter to
boot, and pays neither a fork nor copy-on-write faults per app.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
import warnings

from torchrun_core.errors import BackendError, InvalidInputError
from torchrun_core.schedulers.local.plan import LocalPlan
from torchrun_core.schedulers.local.spawner import encode_request, spawner_main
from torchrun_core.schedulers.local.state import (
    STATE_FILE,
    initial_state,
    open_lock,
    socket_address,
    write_json_atomic,
)

_SEND_BUFFER = 4 << 20  # the kernel caps it at net.core.wmem_max (x2)


class _SpawnerClient:
    """This process's connection to its spawner, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._pid = 0
        self._owner = 0  # the pid that started it: a forked launcher needs its own
        self._env: dict[str, str] | None = None  # the environment the spawner has

    def submit(self, plan: LocalPlan, created_at: float, fds: list[int]) -> None:
        """Have the spawner start ``plan``'s supervisor with this process's environment."""
        env = dict(os.environ)
        with self._lock:
            for retry in (False, True):
                sock = self._connected(restart=retry)
                request = encode_request(plan, None if env == self._env else env, created_at)
                try:
                    sent = socket.send_fds(sock, [request], fds)
                    if sent < len(request):
                        sock.sendall(request[sent:])
                except OSError:  # the spawner died: start another, once
                    if retry:
                        raise
                    continue
                self._env = env
                return

    def _connected(self, restart: bool) -> socket.socket:
        if self._sock is not None and self._owner == os.getpid() and not restart:
            return self._sock
        self._stop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # Room for a burst of requests, so that submitting does not wait for forks.
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SEND_BUFFER)
        with warnings.catch_warnings():
            # Python >= 3.12 warns about fork() with threads; the child only
            # runs our stdlib-only code and never touches a lock it inherited.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the spawner process
            ours.close()
            spawner_main(theirs)
        theirs.close()
        self._sock, self._pid, self._owner, self._env = ours, pid, os.getpid(), None
        return ours

    def _stop(self) -> None:
        if self._sock is None:
            return
        self._sock.close()  # the spawner exits at EOF
        if self._owner == os.getpid():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
        self._sock = None


_spawner = _SpawnerClient()


def launch(plan: LocalPlan) -> None:
    """Write the app's state and start its detached supervisor.

    Only three file-system changes happen here (the app dir, its state file,
    a rename): under a burst of submissions, creating files is what costs.

    Raises:
        InvalidInputError: the plan was scheduled before.
        BackendError: the app dir or the supervisor could not be created.
    """
    app_dir = plan.app_dir
    try:
        _make_app_dir(app_dir)
    except FileExistsError:
        raise InvalidInputError(
            f"local app {plan.app_id!r} was already scheduled",
            hint="make a new dry run for each submission",
            app_id=plan.app_id,
        ) from None
    except OSError as err:
        raise BackendError(f"cannot create {app_dir}: {err.strerror}") from None
    lock_fd = -1
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        lock_fd = open_lock(app_dir)
        # Held from now until the supervisor exits: the descriptor travels to it.
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        listener.bind(socket_address(app_dir))
        listener.listen(128)
        created_at = time.time()
        write_json_atomic(f"{app_dir}/{STATE_FILE}", initial_state(plan, created_at))
        _spawner.submit(plan, created_at, [lock_fd, listener.fileno()])
    except OSError as err:
        raise BackendError(f"cannot start the supervisor of {plan.app_id}: {err}") from None
    finally:
        listener.close()
        if lock_fd >= 0:
            os.close(lock_fd)


def _make_app_dir(app_dir: str) -> None:
    try:
        os.mkdir(app_dir, 0o700)
    except FileNotFoundError:  # the session's first app
        os.makedirs(os.path.dirname(app_dir), exist_ok=True)
        os.mkdir(app_dir, 0o700)
