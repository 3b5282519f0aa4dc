"""Where an SSH connection goes (options over ~/.ssh/config), and its errors as one line.

paramiko is imported only to read an ssh config file or to classify an error.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from torchrun_core.errors import SchedulerUnavailableError


@dataclass(frozen=True)
class SSHTarget:
    """Where to connect, after ~/.ssh/config is applied."""

    host: str
    port: int = 22
    user: str = ""
    identity_files: tuple[str, ...] = ()
    known_hosts: str = "~/.ssh/known_hosts"
    timeout: float = 10.0
    proxy_jump: str | None = None
    ssh_config: str | None = None

    @property
    def where(self) -> str:
        return f"{self.user or '?'}@{self.host}:{self.port}"


def resolve_target(
    host: str,
    port: int | None = None,
    user: str | None = None,
    identity_file: str | None = None,
    known_hosts: str | None = None,
    ssh_config: str | None = None,
    timeout: float = 10.0,
) -> SSHTarget:
    """The target for ``host``: explicit values win over ~/.ssh/config's (HostName, Port,
    User, IdentityFile, UserKnownHostsFile, ProxyJump)."""
    config_path = Path(ssh_config or "~/.ssh/config").expanduser()
    entry: dict[str, object] = {}
    if config_path.is_file():
        import paramiko

        entry = dict(paramiko.SSHConfig.from_path(str(config_path)).lookup(host))
    files = entry.get("identityfile") or []
    known = entry.get("userknownhostsfile")
    return SSHTarget(
        host=str(entry.get("hostname", host)),
        port=port or int(str(entry.get("port", 22))),
        user=user or str(entry.get("user", "") or os.environ.get("USER", "")),
        identity_files=(identity_file,) if identity_file else tuple(map(str, files)),  # type: ignore[call-overload]
        known_hosts=known_hosts or (str(known).split()[0] if known else "~/.ssh/known_hosts"),
        timeout=timeout,
        proxy_jump=str(entry["proxyjump"]) if entry.get("proxyjump") else None,
        ssh_config=str(config_path) if config_path.is_file() else None,
    )


def unavailable(target: SSHTarget, err: BaseException) -> SchedulerUnavailableError:
    """One line naming the target and what went wrong, with a hint; no secrets."""
    import paramiko

    where = f"ssh {target.where}"
    if isinstance(err, paramiko.BadHostKeyException):
        return SchedulerUnavailableError(
            f"{where}: the host key does not match known_hosts ({target.known_hosts})",
            hint="the host changed its key, or this is not the host you meant; check before "
            "you replace its line in known_hosts",
        )
    text = str(err)
    if isinstance(err, paramiko.SSHException) and "not found in known_hosts" in text:
        port = f" -p {target.port}" if target.port != 22 else ""
        return SchedulerUnavailableError(
            f"{where}: unknown host key (not in {target.known_hosts}); unknown hosts are rejected",
            hint=f"check the host's fingerprint, then: ssh-keyscan{port} {target.host} >> "
            f"{target.known_hosts}",
        )
    if isinstance(err, paramiko.AuthenticationException):
        return SchedulerUnavailableError(
            f"{where}: authentication failed",
            hint="set identity_file, or load the key into ssh-agent",
        )
    if isinstance(err, (socket.timeout, TimeoutError)):
        reason = f"timed out after {target.timeout:g}s"
    else:
        reason = " ".join(text.split())[:200] or type(err).__name__
    return SchedulerUnavailableError(
        f"{where}: cannot connect: {reason}", hint="is the host up, and the port right?"
    )


__all__ = ["SSHTarget", "resolve_target", "unavailable"]
