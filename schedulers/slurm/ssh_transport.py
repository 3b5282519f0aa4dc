"""Run commands and read files on a cluster's login node: over SSH, or on this machine.

:class:`SSHTransport` keeps one paramiko connection (and one SFTP session)
and reuses it for every call; when the connection has dropped, the next call
connects again before it runs anything, so a restarted sshd costs one
reconnect and no error. A command that already started is never re-run (it
might be ``sbatch``). Host keys are checked against known_hosts with
paramiko's RejectPolicy: an unknown host is an error, never accepted.
Errors are one line naming ``user@host:port``; key contents never appear.

:class:`~torchrun_core.schedulers.slurm.local_transport.LocalTransport` runs
the same commands on this machine. paramiko is imported only when an SSH
connection is first made.
"""

from __future__ import annotations

import contextlib
import select
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from torchrun_core.errors import SchedulerUnavailableError
from torchrun_core.schedulers.slurm.ssh_target import SSHTarget, resolve_target, unavailable

if TYPE_CHECKING:
    import paramiko

READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class CommandResult:
    """What one remote command did."""

    returncode: int
    stdout: str
    stderr: str


class Transport(Protocol):
    """What the slurm scheduler needs from a login node."""

    commands_run: int

    def run(
        self, command: str, stdin: bytes | None = None, rerun_on_drop: bool = False
    ) -> CommandResult: ...
    def read_from(self, path: str, offset: int, limit: int = READ_CHUNK) -> bytes | None: ...
    def stat(self, path: str) -> tuple[int, float] | None: ...
    def put(self, local: str, remote: str, mtime: float) -> None: ...
    def mkdir(self, path: str) -> None: ...
    def close(self) -> None: ...


class SSHTransport:
    """One reused SSH connection (plus SFTP) to a login node; reconnects after a drop."""

    def __init__(self, target: SSHTarget) -> None:
        self.target = target
        self.commands_run = 0
        self.connects = 0
        self._client: paramiko.SSHClient | None = None
        self._jumps: list[paramiko.SSHClient] = []
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.RLock()
        # paramiko's SFTPClient matches replies to requests without telling
        # threads apart: two threads in it at once can take each other's reply
        # and both wait forever (seen following two replicas' logs at once).
        self._sftp_lock = threading.Lock()

    def _connect(self) -> paramiko.SSHClient:
        self.close()
        sock = None
        if self.target.proxy_jump:
            sock = self._jump_channel(self.target.proxy_jump)
        client = self._new_client(self.target, sock)
        self._client = client
        self.connects += 1
        return client

    def _new_client(self, target: SSHTarget, sock: object | None) -> paramiko.SSHClient:
        import paramiko

        client = paramiko.SSHClient()
        known = Path(target.known_hosts).expanduser()
        if known.is_file():
            client.load_system_host_keys(str(known))  # read-only: never written back
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        files = [str(Path(f).expanduser()) for f in target.identity_files]
        try:
            client.connect(
                target.host,
                port=target.port,
                username=target.user or None,
                key_filename=files or None,  # type: ignore[arg-type]  # a list works too
                timeout=target.timeout,
                banner_timeout=target.timeout,
                auth_timeout=target.timeout,
                sock=sock,  # type: ignore[arg-type]
            )
        except (paramiko.SSHException, OSError, EOFError) as err:
            # Still connected but not logged in: the keys were the problem.
            up = client.get_transport()
            authenticating = up is not None and up.is_active() and not up.is_authenticated()
            client.close()
            raise unavailable(target, err, authenticating) from None
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(15)  # notice a dead peer during long log follows
        return client

    def _jump_channel(self, spec: str) -> paramiko.Channel:
        """A channel to the target through the ProxyJump hosts (``[user@]host[:port]``, ...)."""
        sock = None
        hops = [h.strip() for h in spec.split(",") if h.strip()]
        next_hosts = [*hops[1:], None]
        for hop, nxt in zip(hops, next_hosts, strict=True):
            user, _, hostport = hop.rpartition("@")
            host, _, port = hostport.partition(":")
            hop_target = resolve_target(
                host,
                int(port) if port else None,
                user or None,
                None,
                self.target.known_hosts,
                self.target.ssh_config,
                self.target.timeout,
            )
            if not hop_target.identity_files:  # like ssh: the target's keys, if the hop has none
                hop_target = replace(hop_target, identity_files=self.target.identity_files)
            client = self._new_client(hop_target, sock)
            self._jumps.append(client)
            dest = (self.target.host, self.target.port) if nxt is None else _hop_address(nxt)
            transport = client.get_transport()
            assert transport is not None
            sock = transport.open_channel("direct-tcpip", dest, ("127.0.0.1", 0))
        assert sock is not None
        return sock

    def _live_client(self) -> paramiko.SSHClient:
        client = self._client
        transport = client.get_transport() if client is not None else None
        if client is None or transport is None or not transport.is_active():
            client = self._reconnect() if self.connects else self._connect()
        return client

    def _reconnect(self) -> paramiko.SSHClient:
        """Connect again after a drop, retrying for up to the timeout: a restarting sshd
        refuses connections for a moment."""
        import time

        deadline = time.monotonic() + self.target.timeout
        delay = 0.05
        while True:
            try:
                return self._connect()
            except SchedulerUnavailableError as err:
                if "cannot connect" not in str(err) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def run(
        self, command: str, stdin: bytes | None = None, rerun_on_drop: bool = False
    ) -> CommandResult:
        """Run ``command`` in the remote user's shell, one round trip; its output as text.

        ``rerun_on_drop``: for read-only or idempotent commands (squeue, scancel),
        run once more on a fresh connection when the connection drops mid-command.
        """
        try:
            return self._run_once(command, stdin)
        except _ConnectionLost as lost:
            if not rerun_on_drop:
                raise unavailable(self.target, lost.cause) from None
            self.close()
        try:
            return self._run_once(command, stdin)
        except _ConnectionLost as lost:
            raise unavailable(self.target, lost.cause) from None

    def _run_once(self, command: str, stdin: bytes | None) -> CommandResult:
        import paramiko

        with self._lock:
            channel = self._open_channel()
            self.commands_run += 1
        try:
            channel.exec_command(command)
            if stdin is not None:
                channel.sendall(stdin)
            channel.shutdown_write()
            out, err = _drain(channel)
            code = channel.recv_exit_status()
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise _ConnectionLost(error) from None
        finally:
            channel.close()
        return CommandResult(code, out.decode(errors="replace"), err.decode(errors="replace"))

    def _open_channel(self) -> paramiko.Channel:
        import paramiko

        for tried in (False, True):
            client = self._live_client()
            try:
                transport = client.get_transport()
                assert transport is not None
                return transport.open_session(timeout=self.target.timeout)
            except (paramiko.SSHException, OSError, EOFError) as err:
                self.close()  # the connection died under us: one fresh connect, then give up
                if tried:
                    raise unavailable(self.target, err) from None
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _sftp_session(self) -> Iterator[paramiko.SFTPClient]:
        """The SFTP client, held by this thread alone for the block."""
        with self._sftp_lock:
            yield self._sftp_client()

    def _sftp_client(self) -> paramiko.SFTPClient:
        with self._lock:
            client = self._live_client()
            if (
                self._sftp is None
                or self._sftp.get_channel() is None
                or (
                    self._sftp.get_channel().closed  # type: ignore[union-attr]
                )
            ):
                self._sftp = client.open_sftp()
            return self._sftp

    def read_from(self, path: str, offset: int, limit: int = READ_CHUNK) -> bytes | None:
        """Up to ``limit`` bytes of ``path`` from ``offset``; None when the file is missing."""
        for retry in (False, True):  # a read is safe to repeat on a fresh connection
            try:
                with self._sftp_session() as sftp, sftp.open(path, "rb") as f:
                    f.seek(offset)
                    return f.read(limit)
            except FileNotFoundError:
                return None
            except (OSError, EOFError) as err:
                self.close()
                if retry:
                    raise unavailable(self.target, err) from None
        raise AssertionError("unreachable")

    def stat(self, path: str) -> tuple[int, float] | None:
        """``(size, mtime)`` of a remote file, None when missing."""
        try:
            with self._sftp_session() as sftp:
                st = sftp.stat(path)
        except FileNotFoundError:
            return None
        return int(st.st_size or 0), float(st.st_mtime or 0)

    def put(self, local: str, remote: str, mtime: float) -> None:
        """Copy ``local`` to ``remote`` as a new file (a rename: hard links to the old one keep
        their content) with ``mtime`` (so the next sync can skip it)."""
        with self._sftp_session() as sftp:
            sftp.put(local, remote + ".part")
            sftp.utime(remote + ".part", (mtime, mtime))
            sftp.posix_rename(remote + ".part", remote)

    def mkdir(self, path: str) -> None:
        """Create ``path`` and its parents (like ``mkdir -p``)."""
        with self._sftp_session() as sftp:
            self._mkdirs(sftp, path)

    @staticmethod
    def _mkdirs(sftp: paramiko.SFTPClient, path: str) -> None:
        current = "/" if path.startswith("/") else ""
        for part in [p for p in path.split("/") if p]:
            current = f"{current}{part}"
            try:
                if not stat.S_ISDIR(sftp.stat(current).st_mode or 0):
                    raise SchedulerUnavailableError(f"remote {current} is not a directory")
            except FileNotFoundError:
                sftp.mkdir(current)
            current += "/"

    def close(self) -> None:
        """Drop the connection; the next call connects again."""
        with self._lock:
            for closable in (self._sftp, self._client, *reversed(self._jumps)):
                if closable is not None:
                    # An already broken connection has nothing left to release.
                    with contextlib.suppress(Exception):
                        closable.close()
            self._sftp = self._client = None
            self._jumps = []


class _ConnectionLost(Exception):
    """The connection dropped while a command ran."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _hop_address(hop: str) -> tuple[str, int]:
    hostport = hop.rpartition("@")[2]
    host, _, port = hostport.partition(":")
    return host, int(port) if port else 22


def _drain(channel: paramiko.Channel) -> tuple[bytes, bytes]:
    """All of a channel's stdout and stderr, read as they come so that neither window stalls."""
    out, err = bytearray(), bytearray()
    while True:
        if channel.recv_ready():
            out += channel.recv(READ_CHUNK)
        elif channel.recv_stderr_ready():
            err += channel.recv_stderr(READ_CHUNK)
        elif channel.exit_status_ready() and channel.eof_received:
            return bytes(out), bytes(err)
        elif channel.closed or not _active(channel):
            raise EOFError("the connection dropped before the command finished")
        else:
            select.select([channel], [], [], 1.0)  # a Channel has a fileno for this


def _active(channel: paramiko.Channel) -> bool:
    transport = channel.get_transport()
    return transport is not None and transport.is_active()
