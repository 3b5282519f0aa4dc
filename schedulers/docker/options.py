"""Run options of the docker scheduler (``torchrun-core runopts docker``)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from torchrun_core.limits import MAX_GRACE_PERIOD_S
from torchrun_core.scheduler import SchedulerOptions
from torchrun_core.schedulers.shared.image_repo import DESCRIPTION, check_image_repo

PullPolicy = Literal["never", "if-not-present", "always"]
HOST_NETWORK = "host"

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(value: Any) -> int:
    """Bytes from an int or a size like ``"64m"``, ``"1g"``, ``"2Gi"``, ``"512MB"`` (powers of 2).

    Raises:
        ValueError: for anything else (pydantic names the option).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE_RE.match(str(value))
    if match is None:
        raise ValueError(f"expected bytes or a size like 64m, 1g, 2Gi; got {value!r}")
    return int(float(match[1]) * _SIZE_UNITS[match[2].lower()])


class DockerOptions(SchedulerOptions):
    """Run options of the docker scheduler."""

    host: str | None = Field(
        default=None,
        description="the docker daemon, e.g. unix:///var/run/docker.sock or tcp://h:2375; "
        "default: DOCKER_HOST, else the local socket",
    )
    network_mode: str | None = Field(
        default=None,
        description="default: a new network per app (removed by cancel), where each replica "
        "is reachable by its hostname; 'host' for the host's network; or the name of an "
        "existing network",
    )
    privileged: bool = Field(default=False, description="run the containers privileged")
    init: bool = Field(
        default=True,
        description="run docker's init as PID 1, so that the entrypoint gets SIGTERM on "
        "stop (a PID 1 ignores it) and orphans are reaped",
    )
    shm_size: int | None = Field(
        default=None, description="size of /dev/shm, in bytes or like 64m, 1g (default: docker's)"
    )
    copy_env: list[str] = Field(
        default_factory=list,
        description="names (or globs, like AWS_*) of this machine's env vars to pass on, "
        "comma-separated",
    )
    image_pull_policy: PullPolicy = Field(
        default="if-not-present",
        description="pull images never, only when missing on the daemon, or always",
    )
    image_repo: str | None = Field(
        default=None, description=DESCRIPTION + " (without it the image stays on the daemon)"
    )
    grace_period: int = Field(
        default=10,
        ge=0,
        le=MAX_GRACE_PERIOD_S,  # the daemon's stop timeout is a bounded int
        description="seconds between SIGTERM and SIGKILL when stopping",
    )

    @field_validator("image_repo")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        return check_image_repo(value)

    @field_validator("shm_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int | None:
        return None if value is None else parse_size(value)

    @field_validator("copy_env", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        # --cfg gives one string: copy_env=A,B_*
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("network_mode")
    @classmethod
    def _network(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank; leave it unset for a network per app")
        return value
