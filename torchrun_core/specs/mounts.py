"""Bind, volume and device mounts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from torchrun_core.specs.spec_base import SpecModel


class _Mount(SpecModel):
    """Frozen and strict like every spec; invalid input raises SpecError."""

    @model_serializer(mode="wrap")
    def _keep_type(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # "type" tells the mount kinds apart when a file is read back, so dumping
        # with exclude_defaults (as AppDef.to_dict does) must not drop it.
        data: dict[str, Any] = handler(self)
        return {"type": type(self).model_fields["type"].default, **data}


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
