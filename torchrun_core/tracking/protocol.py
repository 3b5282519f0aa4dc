"""The interface every tracker backend implements (the tracker plugin contract).

A tracker plugin provides, through the ``torchrun_core_trackers`` hook, a
factory ``factory(config: str | None) -> TrackerBackend`` per name. The
:class:`~torchrun_core.tracking.app_run.AppRun` of a job calls
:meth:`TrackerBackend.start` once, then the ``log_*`` methods; values are
already validated (``value`` is a float, ``step`` an int or None). A backend
that raises is dropped with a warning: tracking never breaks the job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torchrun_core.tracking.records import RunContext


class TrackingWarning(UserWarning):
    """Tracking does nothing, or less than asked (no job, a broken backend...)."""


@runtime_checkable
class TrackerBackend(Protocol):
    """One tracker a job reports to (a JSONL file, MLflow, ...)."""

    def start(self, run: RunContext) -> None:
        """Begin reporting for ``run`` (open files, create the remote run)."""

    def log_params(self, params: Mapping[str, Any], timestamp: float) -> None:
        """Record hyper-parameters; later values of a key replace earlier ones."""

    def log_metric(self, tag: str, value: float, step: int | None, timestamp: float) -> None:
        """Record one metric value; the hot path, so buffer rather than write."""

    def log_metrics(self, metrics: Mapping[str, float], step: int | None, timestamp: float) -> None:
        """Record several metrics at the same step."""

    def log_artifact(self, artifact: Mapping[str, Any], timestamp: float) -> None:
        """Record an artifact: keys name, path, kind, metadata; checkpoints add step, complete."""

    def report_progress(
        self,
        operation: str,
        value: float,
        final_value: float | None,
        units: str | None,
        timestamp: float,
    ) -> None:
        """Record how far ``operation`` has got (``value`` out of ``final_value``)."""

    def add_source(self, source: str, kind: str | None, timestamp: float) -> None:
        """Record lineage: a run id or URI the job read from."""

    def flush(self) -> None:
        """Make everything recorded so far visible to readers."""

    def close(self) -> None:
        """Flush and release; no call follows."""


__all__ = ["TrackerBackend", "TrackingWarning"]
