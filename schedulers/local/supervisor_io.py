"""The supervisor's edges: pipes, client sockets, and shell-like exit codes.

Standard library only: used inside the forked supervisor.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import struct

from torchrun_core.schedulers.local.logs import AttemptLogWriter

# Exit codes a shell would give.
EXIT_NOT_FOUND = 127
EXIT_CANNOT_EXECUTE = 126
# Reading a finished replica's pipes stops after this much, in case something
# that escaped its process group keeps writing.
_DRAIN_LIMIT = 64 << 20


def exit_reason(code: int) -> tuple[int, str]:
    """``(exit code, reason)`` from a ``waitstatus_to_exitcode`` result.

    A death by signal N is reported as 128 + N, as a shell does.
    """
    if code >= 0:
        return code, f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    return 128 - code, f"killed by {name} (exit code {128 - code})"


def spawn_error(err: OSError | ValueError, entrypoint: str, cwd: str) -> tuple[int, str]:
    """``(exit code, reason)`` for a replica that could not be started at all."""
    if isinstance(err, FileNotFoundError):
        if not os.path.isdir(cwd):
            return EXIT_NOT_FOUND, f"working directory {cwd!r} does not exist"
        return EXIT_NOT_FOUND, f"entrypoint {entrypoint!r} not found"
    if isinstance(err, PermissionError):
        return EXIT_CANNOT_EXECUTE, f"entrypoint {entrypoint!r} cannot be executed (permission)"
    if isinstance(err, OSError) and err.strerror:
        return EXIT_CANNOT_EXECUTE, f"cannot run {entrypoint!r}: {err.strerror}"
    return EXIT_CANNOT_EXECUTE, f"cannot run {entrypoint!r}: {err}"


def drain(fd: int, stream: str, logs: AttemptLogWriter) -> None:
    """Copy what is readable now from a non-blocking pipe into ``logs``."""
    total = 0
    while total < _DRAIN_LIMIT:
        try:
            data = os.read(fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        if not data:
            return
        logs.write(stream, data)
        total += len(data)


class CancelRequest:
    """A client's ``cancel [GRACE_SECONDS]`` line: the grace period overrides the app's."""

    __slots__ = ("grace_period",)

    def __init__(self, grace_period: float | None) -> None:
        self.grace_period = grace_period


def cancel_line(grace_period: float | None) -> bytes:
    """What a client sends to cancel the app, with its grace period if any."""
    return b"cancel\n" if grace_period is None else f"cancel {grace_period!r}\n".encode()


def parse_cancel(data: bytes) -> CancelRequest | None:
    """The cancel request in ``data``, None without one; a bad grace period means the app's."""
    for line in data.splitlines():
        words = line.split()
        if not words or words[0] != b"cancel":
            continue
        try:
            grace = float(words[1]) if len(words) > 1 else None
        except ValueError:
            grace = None
        if grace is not None and not 0 <= grace < float("inf"):
            grace = None  # also rejects NaN
        return CancelRequest(grace)
    return None


class WatcherSockets:
    """The app's listening socket and its connected clients (watchers, cancellers)."""

    def __init__(self, listener: socket.socket, sel: selectors.BaseSelector) -> None:
        listener.setblocking(False)
        self.listener = listener
        self.sel = sel
        self.clients: list[socket.socket] = []
        sel.register(listener, selectors.EVENT_READ, "listen")

    def accept(self) -> None:
        for conn in accept_clients(self.listener):
            self.clients.append(conn)
            self.sel.register(conn, selectors.EVENT_READ, "client")

    def notify(self) -> None:
        """Wake every client, including any that connected before this call."""
        self.accept()
        for conn in list(self.clients):
            try:
                conn.send(b".")
            except BlockingIOError:
                pass  # it has unread wake-ups already
            except OSError:
                self._drop(conn)

    def read(self, conn: socket.socket) -> CancelRequest | None:
        """Handle what ``conn`` sent; the cancel it asks for, if it does."""
        try:
            data = conn.recv(256)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
        return parse_cancel(data)

    def close(self) -> None:
        for conn in [self.listener, *self.clients]:
            conn.close()

    def _drop(self, conn: socket.socket) -> None:
        self.clients.remove(conn)
        self.sel.unregister(conn)
        conn.close()


def accept_clients(listener: socket.socket) -> list[socket.socket]:
    """Accept every pending connection from our own user (or root); non-blocking."""
    out: list[socket.socket] = []
    me = os.getuid()
    while True:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return out
        except OSError:
            return out
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        if uid not in (me, 0):  # abstract sockets have no file permissions
            conn.close()
            continue
        conn.setblocking(False)
        out.append(conn)
