"""Bind, volume and device mounts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Mount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BindMount(_Mount):
    """A host path mounted into the replica."""

    type: Literal["bind"] = "bind"
    src_path: str = Field(min_length=1)
    dst_path: str = Field(min_length=1)
    read_only: bool = False


class VolumeMount(_Mount):
    """A named volume (docker volume, Kubernetes PVC) mounted into the replica."""

    type: Literal["volume"] = "volume"
    src: str = Field(min_length=1)
    dst_path: str = Field(min_length=1)
    read_only: bool = False


class DeviceMount(_Mount):
    """A host device node made available to the replica."""

    type: Literal["device"] = "device"
    src_path: str = Field(min_length=1)
    dst_path: str = Field(min_length=1)
    permissions: str = Field(default="rwm", pattern=r"^[rwm]{1,3}$")


Mount = Annotated[BindMount | VolumeMount | DeviceMount, Field(discriminator="type")]
