"""Where an SSH connection goes (options over ~/.ssh/config), and its errors as one line.

paramiko is imported only to read an ssh config file or to classify an error.
A key file that cannot be used (missing, unreadable, not a private key, or
protected by a passphrase) is bad input (:class:`InvalidOptionError`, exit 2):
no retry can fix it, unlike an unreachable host.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from torchrun_core.errors import InvalidOptionError, SchedulerUnavailableError


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


def unavailable(
    target: SSHTarget, err: BaseException, authenticating: bool = False
) -> SchedulerUnavailableError | InvalidOptionError:
    """One line naming the target and what went wrong, with a hint; no secrets.

    An unusable identity file is reported as such (:func:`key_problem`): paramiko
    itself says "cannot connect" for a missing or unreadable one. ``authenticating``:
    the connection was up and failed while logging in, whatever ``err`` says (paramiko
    raises the last key-loading error, e.g. "Invalid key", when the server refused a key).
    """
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
    if isinstance(err, (socket.timeout, TimeoutError)):
        return _cannot_connect(where, f"timed out after {target.timeout:g}s")
    if isinstance(
        err, (paramiko.ssh_exception.NoValidConnectionsError, ConnectionError, socket.gaierror)
    ):
        return _cannot_connect(where, " ".join(text.split())[:200])
    # The host answered and proved its key: paramiko then reads the key files, and
    # says "cannot connect" (or "authentication failed") for one it cannot use.
    problem = key_problem(target)
    if problem is not None:
        return problem
    if authenticating or isinstance(err, paramiko.AuthenticationException):
        offered = ", ".join(target.identity_files) or "ssh-agent's and ~/.ssh/id_*"
        return SchedulerUnavailableError(
            f"{where}: authentication failed: the server accepted none of the keys offered",
            hint=f"is the public key of {offered} in ~/.ssh/authorized_keys of "
            f"{target.user or 'the user'} there? Set identity_file, or load the key into ssh-agent",
        )
    return _cannot_connect(where, " ".join(text.split())[:200] or type(err).__name__)


def _cannot_connect(where: str, reason: str) -> SchedulerUnavailableError:
    return SchedulerUnavailableError(
        f"{where}: cannot connect: {reason}", hint="is the host up, and the port right?"
    )


def key_problem(target: SSHTarget) -> InvalidOptionError | None:
    """The first of ``target``'s identity files that paramiko cannot use, as an error
    naming it and why; None when every one loads.

    A key is tried as each type paramiko's client tries (RSA, ECDSA, Ed25519); one
    that needs a passphrase is reported as such, since none is ever asked for.
    """
    import paramiko

    for name in target.identity_files:
        path = Path(name).expanduser()
        what = f"ssh {target.where}: identity file {path}"
        if not path.exists():
            return _key_error(f"{what} does not exist", "check identity_file (or IdentityFile "
                              "in the ssh config): the path of the private key")  # fmt: skip
        errors: list[Exception] = []
        for key_type in (paramiko.RSAKey, paramiko.ECDSAKey, paramiko.Ed25519Key):
            try:
                key_type.from_private_key_file(str(path))
            except (paramiko.SSHException, OSError, ValueError) as err:
                errors.append(err)
            else:
                break
        else:
            return _unusable_key(what, path, errors)
    return None


def _unusable_key(what: str, path: Path, errors: list[Exception]) -> InvalidOptionError:
    """The error for a key file that no key type could load (``errors``: why, per type)."""
    import paramiko

    if any(isinstance(e, paramiko.PasswordRequiredException) for e in errors):
        return _key_error(
            f"{what} is protected by a passphrase (torchrun_core never asks for one)",
            f"load it into ssh-agent (ssh-add {path}), or use a key without a passphrase",
        )
    os_error = next((e for e in errors if isinstance(e, OSError)), None)
    if os_error is not None:
        return _key_error(
            f"{what} cannot be read: {os_error.strerror or os_error}",
            "it must be a file this user can read (ssh wants it mode 600)",
        )
    try:
        public = path.read_text(errors="replace").lstrip().startswith(("ssh-", "ecdsa-"))
    except OSError:
        public = False
    if public:
        return _key_error(
            f"{what} is a public key, not a private one",
            f"set identity_file to the private key (the file without .pub: {path.with_suffix('')})"
            if path.suffix == ".pub"
            else "set identity_file to the private key file",
        )
    return _key_error(
        f"{what} is not a private key paramiko can read",
        "use an OpenSSH or PEM private key of type ed25519, ecdsa or rsa "
        "(ssh-keygen -y -f KEY prints its public key when the file is sound)",
    )


def _key_error(message: str, hint: str) -> InvalidOptionError:
    return InvalidOptionError(message, hint=hint, option="identity_file")


__all__ = ["SSHTarget", "key_problem", "resolve_target", "unavailable"]
