"""What a job reports through its trackers, as read back: metric points and checkpoints.

Plain slotted dataclasses, so that reading 100,000 points stays cheap and
nothing here imports pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass(frozen=True)
class RunContext:
    """Who is reporting: the job's handle and parent, and this process's place in it.

    Attributes:
        handle: ``scheduler://session/app_id`` of the job (``""`` outside a job).
        parent_run_id: the run that launched the job, if any.
        role: the role name (``TORCHRUN_CORE_ROLE``), ``""`` when unknown.
        replica_id: the replica id (``TORCHRUN_CORE_REPLICA_ID``), ``""`` when unknown.
        host: this machine's name.
        pid: this process's id.
    """

    handle: str
    parent_run_id: str | None = None
    role: str = ""
    replica_id: str = ""
    host: str = ""
    pid: int = 0

    @property
    def source(self) -> str:
        """``role/replica`` naming the reporting replica (``?`` for an unknown part)."""
        return f"{self.role or '?'}/{self.replica_id or '?'}"


class MetricPoint(NamedTuple):
    """One reported value: a metric (``kind="metric"``) or a progress report (``"progress"``).

    A named tuple, the cheapest record Python builds: ``metrics`` returns
    100,000 of them in well under a second.

    Attributes:
        tag: the metric name, or the progress report's operation.
        value: the value.
        step: the global step, None when not given (always None for progress).
        timestamp: unix time at which the job reported it.
        source: ``role/replica`` that reported it.
        kind: ``"metric"`` or ``"progress"``.
        final_value: progress only: the value at which the operation is done.
        units: progress only: what ``value`` counts (``"steps"``, ``"samples"``...).
    """

    tag: str
    value: float
    step: int | None
    timestamp: float
    source: str = ""
    kind: str = "metric"
    final_value: float | None = None
    units: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible data (``--json``); progress fields only for progress points."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "tag": self.tag,
            "value": self.value,
            "step": self.step,
            "timestamp": self.timestamp,
            "source": self.source,
        }
        if self.kind == "progress":
            out["final_value"] = self.final_value
            out["units"] = self.units
        return out


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A checkpoint the job recorded (an artifact of kind ``checkpoint``).

    Attributes:
        path: where the job wrote it.
        step: the global step it was taken at.
        complete: False while the job is still writing it (or never finished).
        timestamp: unix time of its latest record.
        source: ``role/replica`` that recorded it.
        metadata: whatever the job attached.
    """

    path: str
    step: int | None
    complete: bool
    timestamp: float
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "step": self.step,
            "complete": self.complete,
            "timestamp": self.timestamp,
            "source": self.source,
            "metadata": self.metadata,
        }


@dataclass
class RunData:
    """Everything the file backend holds for one run, merged over its replicas' files."""

    metrics: list[MetricPoint] = field(default_factory=list)
    progress: list[MetricPoint] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    parent_run_id: str | None = None


__all__ = ["Checkpoint", "MetricPoint", "RunContext", "RunData"]
