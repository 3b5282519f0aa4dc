"""Resource requests of one replica."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from torchrun_core.specs.quantity import parse_cpu, parse_memory_mb

Cpu = Annotated[float, BeforeValidator(parse_cpu)]
MemoryMB = Annotated[int, BeforeValidator(parse_memory_mb)]


class Resource(BaseModel):
    """What one replica needs.

    ``cpu`` takes cores or a Kubernetes quantity (``"500m"``); ``memory_mb``
    takes MiB or a quantity (``"512Mi"``, ``"4Gi"``). A zero means "no
    request": the scheduler applies no limit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cpu: Cpu = Field(default=0.0, description="cores, or a quantity like '500m'")
    memory_mb: MemoryMB = Field(default=0, description="MiB, or a quantity like '4Gi'")
    gpu: int = Field(default=0, ge=0, description="whole GPUs")
    devices: dict[str, int] = Field(
        default_factory=dict, description="named devices and counts, e.g. vpc.amazonaws.com/efa"
    )
    capabilities: dict[str, Any] = Field(
        default_factory=dict, description="scheduler-specific placement hints"
    )


NULL_RESOURCE = Resource()
