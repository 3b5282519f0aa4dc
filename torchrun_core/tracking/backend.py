"""The interface every tracker backend implements, and how AppRun finds the configured ones.

A tracker plugin provides, through the ``torchrun_core_trackers`` hook, a
factory ``factory(config: str | None) -> TrackerBackend`` per name. The
:class:`~torchrun_core.tracking.app_run.AppRun` of a job calls
:meth:`TrackerBackend.start` once, then the ``log_*`` methods; values are
already validated (``value`` is a float, ``step`` an int or None). A backend
that raises is dropped with a warning: tracking never breaks the job.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from torchrun_core.tracking.records import RunContext

TRACKERS_ENV = "TORCHRUN_CORE_TRACKERS"


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


def warn(message: str) -> None:
    """A :class:`TrackingWarning` pointing at the job's own call, not at this package."""
    warnings.warn(message, TrackingWarning, stacklevel=4)


def tracker_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """The trackers the Runner injected into the job (``TORCHRUN_CORE_TRACKERS``)."""
    env = os.environ if environ is None else environ
    return [n.strip() for n in env.get(TRACKERS_ENV, "").split(",") if n.strip()]


def load_backends(
    names: list[str], environ: Mapping[str, str], registry: Any = None
) -> list[tuple[str, TrackerBackend]]:
    """The backends of ``names`` made from their ``TORCHRUN_CORE_TRACKER_<NAME>_CONFIG``.

    A tracker no plugin provides, or whose factory fails, is left out with a
    warning.
    """
    from torchrun_core.tracker_env import tracker_config_env

    if registry is None:
        from torchrun_core.plugins import get_registry

        registry = get_registry()
    out: list[tuple[str, TrackerBackend]] = []
    for name in names:
        try:
            provider = registry.get("trackers", name)
            if provider is None:
                known = ", ".join(registry.names("trackers")) or "none"
                warn(f"tracker {name!r} is not installed (installed: {known}); not reporting to it")
                continue
            backend = provider.load()(environ.get(tracker_config_env(name)) or None)
        except Exception as err:  # a broken tracker plugin must not break the job
            warn(f"tracker {name!r} cannot be used: {type(err).__name__}: {err}")
            continue
        out.append((name, backend))
    return out


__all__ = ["TrackerBackend", "TrackingWarning", "load_backends", "tracker_names", "warn"]
