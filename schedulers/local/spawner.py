"""The spawner: a helper process, forked once per launcher, that forks supervisors.

Forking the launcher once per app is slow for many apps: besides the fork
itself, every page the launcher touches afterwards is copied again while a
supervisor still shares it. So the launcher forks this spawner once; the
spawner (idle, so it dirties no pages) forks one supervisor per request.
Supervisors are the spawner's children, never the launcher's zombies; the
spawner reaps them, and exits when the launcher closes its socket (or
exits). Its supervisors then live on, adopted by init.

Standard library only after the fork; requests arrive pickled (the classes
are already loaded, the spawner being a copy of the launcher).
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import resource
import selectors
import signal
import socket
import struct
import traceback

from torchrun_core.schedulers.local.descendants import become_subreaper
from torchrun_core.schedulers.local.plan import LocalPlan
from torchrun_core.schedulers.local.state import initial_state, note_supervisor_log
from torchrun_core.schedulers.local.supervisor import Supervisor

HEADER = struct.Struct("<Q")
NUM_FDS = 2  # the app's lock (its dir, flock-ed) and its listening socket
_KEEP_IGNORED = (signal.SIGPIPE, signal.SIGXFSZ)


def spawner_main(sock: socket.socket) -> None:  # pragma: no cover - runs in the forked child
    """Serve spawn requests on ``sock`` until EOF; never returns."""
    gc.freeze()  # objects of the launcher are never collected here (see _detach_fds)
    code = 1
    try:
        _reset_signals()
        os.setsid()  # no terminal signals: it ends when its launcher does
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nor a stray kill -INT
        _detach_fds(os.open(os.devnull, os.O_WRONLY), keep={sock.fileno()})
        _serve(sock)
        code = 0
    finally:
        os._exit(code)


def _serve(sock: socket.socket) -> None:  # pragma: no cover - spawner only
    env: dict[str, str] = {}
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj == wake_r:
                os.read(wake_r, 512)
            else:
                request = _receive(sock)
                if request is None:
                    return
                plan, new_env, created_at = pickle.loads(request[0])
                env = env if new_env is None else new_env
                _spawn(plan, env, created_at, request[1])
        _reap()


def _receive(sock: socket.socket) -> tuple[bytes, list[int]] | None:  # pragma: no cover
    """One request: (pickled payload, fds), or None at EOF."""
    header, fds, _, _ = socket.recv_fds(sock, HEADER.size, NUM_FDS)  # fds come with byte 0
    if not header:
        return None
    while len(header) < HEADER.size:
        header += _recv_some(sock, HEADER.size - len(header))
    (size,) = HEADER.unpack(header)
    chunks = []
    while size:
        chunk = _recv_some(sock, min(size, 1 << 20))
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks), fds


def _recv_some(sock: socket.socket, n: int) -> bytes:  # pragma: no cover
    data = sock.recv(n)
    if not data:
        raise EOFError("the launcher closed the spawner socket mid-request")
    return data


def _spawn(
    plan: LocalPlan, env: dict[str, str], created_at: float, fds: list[int]
) -> None:  # pragma: no cover - spawner only
    try:
        pid = os.fork()
    except OSError as err:
        _report(plan.app_dir, f"cannot fork the supervisor: {err}\n")
        pid = -1
    if pid == 0:
        _become_supervisor(plan, env, created_at, fds)
    for fd in fds:
        os.close(fd)


def _reap() -> None:  # pragma: no cover - spawner only
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _become_supervisor(
    plan: LocalPlan, env: dict[str, str], created_at: float, fds: list[int]
) -> None:  # pragma: no cover - a supervisor
    """In a child of the spawner: run one app's supervisor; never returns."""
    lock_fd, listen_fd = fds
    code = 1
    try:
        _reset_signals()
        os.setsid()
        _detach_fds(os.open(os.devnull, os.O_WRONLY), keep={lock_fd, listen_fd})
        _become_subreaper(plan.app_dir)
        listener = socket.socket(fileno=listen_fd)
        Supervisor(plan, listener, initial_state(plan, created_at), env).run()
        code = 0
    except BaseException:
        with contextlib.suppress(BaseException):
            _report(plan.app_dir, traceback.format_exc())
    os._exit(code)


def _report(app_dir: str, text: str) -> None:  # pragma: no cover - failures only
    """Append ``text`` to the app's supervisor.log (created only when needed)."""
    note_supervisor_log(app_dir, text)


def _reset_signals() -> None:  # pragma: no cover - child only
    # First of all: the inherited wakeup fd is about to be closed, and a
    # signal written to a reused descriptor number would corrupt it.
    with contextlib.suppress(ValueError):
        signal.set_wakeup_fd(-1)
    signal.setitimer(signal.ITIMER_REAL, 0)
    # Ignored signals and the blocked mask survive exec: a launcher started as
    # a background job (SIGINT, SIGQUIT ignored) or from a thread with blocked
    # signals must not hand them to every replica. Only Python's own SIGPIPE
    # and SIGXFSZ stay ignored here; Popen restores those for the replicas.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    for sig in signal.valid_signals():
        if sig in _KEEP_IGNORED or sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError):
            if signal.getsignal(sig) is not signal.SIG_DFL:
                signal.signal(sig, signal.SIG_DFL)


def _detach_fds(out_fd: int, keep: set[int]) -> None:  # pragma: no cover - child only
    """stdin from /dev/null, stdout/stderr to ``out_fd``, every other fd closed but ``keep``.

    Closing the launcher's descriptors is what lets ``$(torchrun-core run ...)``
    return: nothing here holds the caller's pipes.
    """
    os.chdir("/")  # do not pin the launcher's cwd; every replica has an absolute one
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    low = 3
    for fd in sorted(keep):
        if fd > low:
            os.closerange(low, fd)
        low = max(low, fd + 1)
    os.closerange(low, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _become_subreaper(app_dir: str) -> None:  # pragma: no cover - child only
    # Adopt the replicas' orphans: so that they are reaped even where pid 1
    # does not, and so that cancel finds (and stops) those that left their group.
    why = become_subreaper()
    if why is not None:
        with contextlib.suppress(OSError):
            _report(
                app_dir,
                f"not a child subreaper ({why}): a replica's process that "
                "leaves its process group (setsid) may outlive the app\n",
            )
    # Two pipes and six log files per replica: raise the soft fd limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def encode_request(plan: LocalPlan, env: dict[str, str] | None, created_at: float) -> bytes:
    """One spawn request: a length header, then the pickled payload.

    ``env`` None means the same environment as the previous request: small
    requests let a burst of submissions sit in the socket buffer instead of
    blocking the launcher.
    """
    payload = pickle.dumps((plan, env, created_at), protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload
