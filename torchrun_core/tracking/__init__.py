"""Tracking from inside a job: ``from torchrun_core.tracking import app_run``.

::

    from torchrun_core.tracking import app_run

    run = app_run()                      # from the TORCHRUN_CORE_* env
    run.log_params({"lr": 0.1})
    for step in range(100):
        run.log_metric("loss", 1 / (step + 1), step=step)
        run.report_progress("train", step + 1, 100, "steps")
    run.log_checkpoint("/ckpt/100.pt", step=100)

This facade is lazy: importing it loads neither pydantic nor any tracker
SDK; each name is imported on first access. See docs/tracking.md.
"""

from __future__ import annotations

from torchrun_core._lazy import lazy_getattr

_EXPORTS = {
    "AppRun": "torchrun_core.tracking.app_run",
    "Checkpoint": "torchrun_core.tracking.records",
    "FileBackend": "torchrun_core.tracking.file_backend",
    "MetricPoint": "torchrun_core.tracking.records",
    "RunContext": "torchrun_core.tracking.records",
    "TrackerBackend": "torchrun_core.tracking.protocol",
    "TrackingWarning": "torchrun_core.tracking.protocol",
    "app_run": "torchrun_core.tracking.app_run",
    "reset_app_run": "torchrun_core.tracking.app_run",
}

TYPE_CHECKING = False
if TYPE_CHECKING:
    from torchrun_core.tracking.app_run import AppRun, app_run, reset_app_run
    from torchrun_core.tracking.file_backend import FileBackend
    from torchrun_core.tracking.protocol import TrackerBackend, TrackingWarning
    from torchrun_core.tracking.records import Checkpoint, MetricPoint, RunContext

__getattr__ = lazy_getattr(__name__, _EXPORTS)

__all__ = [
    "AppRun",
    "Checkpoint",
    "FileBackend",
    "MetricPoint",
    "RunContext",
    "TrackerBackend",
    "TrackingWarning",
    "app_run",
    "reset_app_run",
]


def __dir__() -> list[str]:
    return list(__all__)
