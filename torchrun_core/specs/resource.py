"""Resource requests of one replica."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from torchrun_core.specs.quantity import CPU_PATTERN, MEMORY_PATTERN, parse_cpu, parse_memory_mb
from torchrun_core.specs.spec_base import SpecModel


def _number_or_quantity(pattern: str) -> WithJsonSchema:
    # The schema must accept what the parser accepts ("500m", "4Gi"), not only numbers.
    return WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": pattern}]}
    )


Cpu = Annotated[float, BeforeValidator(parse_cpu), _number_or_quantity(CPU_PATTERN)]
MemoryMB = Annotated[int, BeforeValidator(parse_memory_mb), _number_or_quantity(MEMORY_PATTERN)]


class Resource(SpecModel):
    """What one replica needs.

    ``cpu`` takes cores or a Kubernetes quantity (``"500m"``); ``memory_mb``
    takes MiB or a quantity (``"512Mi"``, ``"4Gi"``). A zero means "no
    request": the scheduler applies no limit.
    """

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
