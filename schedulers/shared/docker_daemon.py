"""A connection to a docker daemon, and the translation of the docker SDK's errors.

Shared: the docker scheduler runs containers through it, and the workspace
image builders (docker, kubernetes) build and push through it. The ``docker``
SDK is imported when a client is first made: plugin discovery and dry runs
never import it.
Every SDK exception is turned here into one error of
:mod:`torchrun_core.errors`, one line naming the daemon and what failed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from torchrun_core.errors import (
    BackendError,
    InvalidInputError,
    SchedulerUnavailableError,
    TorchrunCoreError,
)

if TYPE_CHECKING:
    from docker import APIClient

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
# Seconds a single API call may take; a container stop waits longer (its grace).
API_TIMEOUT_S = 60
_START_HINT = "start dockerd, or point DOCKER_HOST (or --cfg host=...) at a running one"


def daemon_address(host: str | None) -> str:
    """The daemon ``host`` names, or the environment's (``DOCKER_HOST``, else the local socket)."""
    return host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def on_this_machine(address: str) -> bool:
    """Whether the daemon at ``address`` runs here: its bind mounts are this machine's paths.

    A unix socket, or TCP to a loopback address; anything else (another
    host, ``ssh://``) is taken as elsewhere.
    """
    scheme, _, rest = address.partition("://")
    if scheme == "unix":
        return True
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    return scheme == "tcp" and (host in ("localhost", "::1") or host.startswith("127."))


def connect(host: str | None) -> APIClient:
    """A client of the daemon at ``host`` (None: the environment's), its API version agreed.

    Raises:
        SchedulerUnavailableError: the SDK is missing or the daemon does not answer.
    """
    try:
        import docker
        from docker.utils import kwargs_from_env
    except ImportError:
        raise SchedulerUnavailableError(
            "the docker scheduler needs the docker SDK, which is not installed",
            hint="pip install 'torchrun-core[docker]'",
            scheduler="docker",
        ) from None
    address = daemon_address(host)
    # TLS settings (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) apply to the environment's daemon.
    kwargs = kwargs_from_env() if host is None else {}
    kwargs["base_url"] = address
    with translated(address, "connect"):
        return docker.APIClient(version="auto", timeout=API_TIMEOUT_S, **kwargs)


def unavailable(address: str, reason: BaseException) -> SchedulerUnavailableError:
    """The error for a daemon that cannot be reached, with the OS's reason when there is one."""
    return SchedulerUnavailableError(
        f"cannot reach the docker daemon at {address}: {root_reason(reason)}",
        hint=_START_HINT,
        scheduler="docker",
    )


def root_reason(err: BaseException) -> str:
    """The innermost OS error's text ("Connection refused"), else the error's first line.

    requests and urllib3 wrap the socket's error several levels deep, in
    ``args`` as well as in ``__cause__``/``__context__``.
    """
    seen: set[int] = set()
    todo: list[object] = [err]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.strerror:
            return str(item.strerror)
        todo += [*item.args, item.__cause__, item.__context__]
    return _short(str(err).splitlines()[0] if str(err) else type(err).__name__)


def _short(text: str) -> str:
    """The useful end of a requests/urllib3 error chain, which nests reprs several deep."""
    for marker in ("Caused by ", "Error while fetching server API version: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    return text.strip(" ()'\"")[:300]


@contextmanager
def translated(address: str, doing: str) -> Iterator[None]:
    """Run SDK calls, turning their exceptions into torchrun_core errors.

    Args:
        address: the daemon, named in every message.
        doing: what was being done, e.g. ``"create container x"``.
    """
    try:
        yield
    except TorchrunCoreError:
        raise
    except Exception as err:
        raise translate(err, address, doing) from None


def translate(err: Exception, address: str, doing: str) -> TorchrunCoreError:
    """One torchrun_core error for an SDK (or requests) exception."""
    import requests
    from docker.errors import APIError, DockerException

    if isinstance(err, APIError):
        explanation = str(err.explanation or err).strip()
        status = err.status_code or 0
        message = f"docker daemon at {address}: {doing}: {explanation}"
        hint = None
        if _names_missing_path(explanation):
            hint = "check the mount and device paths: they are paths on the docker host"
        if hint or (400 <= status < 500 and status not in (408, 429)):
            return InvalidInputError(message, hint=hint, scheduler="docker")
        return BackendError(message, scheduler="docker")
    if isinstance(err, (requests.exceptions.ConnectionError, ConnectionError, FileNotFoundError)):
        return unavailable(address, err)
    if isinstance(err, requests.exceptions.Timeout):
        return BackendError(
            f"docker daemon at {address} did not answer in time: {doing}", scheduler="docker"
        )
    if isinstance(err, DockerException) and "fetching server API version" in str(err):
        return unavailable(address, err)
    return BackendError(
        f"docker daemon at {address}: {doing}: {type(err).__name__}: {_short(str(err))}",
        scheduler="docker",
    )


def _names_missing_path(explanation: str) -> bool:
    """True for the daemon's way of saying a host path (a device, a mount) does not exist."""
    text = explanation.lower()
    return "no such file or directory" in text or "does not exist" in text
