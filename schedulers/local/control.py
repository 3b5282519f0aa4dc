"""Talk to a running app's supervisor: watch for state changes, ask it to cancel; delete.

The supervisor listens on an abstract unix socket (see
``state.socket_address``). It sends a byte to every connected client
after each ``state.json`` write and closes all connections when it exits.
A client that connects before reading the state therefore never misses a
change. When nobody listens (the app is over, or its supervisor died) the
watcher falls back to short polling.
"""

from __future__ import annotations

import os
import select
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from torchrun_core.scheduler import Watcher
from torchrun_core.schedulers.local.descendants import Proc, kill_tree
from torchrun_core.schedulers.local.state import (
    TERMINAL,
    dead_supervisor_lock,
    kill_group,
    read_state,
    settle_state,
    socket_address,
)
from torchrun_core.schedulers.local.supervisor_io import cancel_line


def connect(app_dir: str) -> socket.socket | None:
    """A connection to the app's supervisor, or None when it is not listening."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_address(app_dir))
    except OSError:
        sock.close()
        return None
    return sock


class SupervisorWatcher(Watcher):
    """Wakes when the supervisor reports a state change, or polls without one."""

    def __init__(self, app_dir: str) -> None:
        super().__init__(first_delay=0.01, max_delay=0.2)
        self._sock = connect(app_dir)

    def wait(self, timeout: float) -> None:
        if self._sock is None:
            super().wait(timeout)
            return
        ready, _, _ = select.select([self._sock], [], [], max(0.0, timeout))
        if ready:
            try:
                data = self._sock.recv(4096)
            except OSError:
                data = b""
            if not data:  # the supervisor is gone: the next state read shows why
                self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


@contextmanager
def watch_app(app_dir: str) -> Iterator[Watcher]:
    watcher = SupervisorWatcher(app_dir)
    try:
        yield watcher
    finally:
        watcher.close()


def request_cancel(app_dir: str, timeout: float, grace_period: float | None = None) -> bool:
    """Ask the supervisor to cancel; True once it has finished (closed the socket).

    ``grace_period`` overrides the app's own for this cancel.
    """
    sock = connect(app_dir)
    if sock is None:
        return False
    deadline = time.monotonic() + timeout
    with sock:
        try:
            sock.sendall(cancel_line(grace_period))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                ready, _, _ = select.select([sock], [], [], remaining)
                if ready and not sock.recv(4096):
                    return True
        except OSError:  # reset: it exited
            return True


def force_cancel(app_dir: str) -> None:
    """Cancel without the supervisor's help: kill it, all below it, and every replica group.

    For a supervisor that does not answer; the app ends CANCELLED.
    """
    state = read_state(app_dir)
    if state is None or state["state"] in TERMINAL:
        return
    sup = state.get("supervisor") or {}
    pid, start = sup.get("pid"), sup.get("start")
    if pid and start is not None:
        # With everything below it: the daemons it adopted would go to init.
        kill_tree(Proc(pid, start, pid))
    for role in state["roles"]:
        for rep in role["replicas"]:
            kill_group(rep["pid"], rep["pid_start"])
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        settled = settle_state(
            app_dir, read_state(app_dir), "CANCELLED", "cancelled; the supervisor did not answer"
        )
        if settled is None or settled["state"] in TERMINAL:
            return
        time.sleep(0.01)


def remove_app_files(app_dir: str, log_dir: str | None, timeout: float) -> bool:
    """Remove an ended app's dir and its log dir, once its supervisor has exited.

    The supervisor lock is held while removing, so that no reader settles
    (rewrites) the state meanwhile. Returns False, removing nothing, when
    the supervisor still runs after ``timeout`` s.
    """
    deadline = time.monotonic() + timeout
    while True:
        with dead_supervisor_lock(app_dir) as dead:
            if dead:
                # A log_dir option puts logs in <log_dir>/<app_id>: only that one goes.
                app_id = os.path.basename(app_dir)
                if log_dir and os.path.basename(log_dir) == app_id:
                    shutil.rmtree(log_dir, ignore_errors=True)
                shutil.rmtree(app_dir, ignore_errors=True)
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)  # the supervisor exits right after its final state write
