"""The Runner's read-back of what a job reported through its trackers.

Reads the ``file`` tracker's records (see :mod:`torchrun_core.tracking`)
from the root the run was launched with: the
``TORCHRUN_CORE_TRACKER_FILE_CONFIG`` recorded in its stored AppDef, else the
default root. Other trackers (MLflow...) are read with their own tools.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrun_core.runner.base import RunnerBase
from torchrun_core.specs.handle import AppHandle, parse_handle
from torchrun_core.tracking import run_lookup

if TYPE_CHECKING:
    from torchrun_core.tracking.records import Checkpoint, MetricPoint, RunData


class RunnerTracking(RunnerBase):
    """``metrics``, ``progress``, ``checkpoints`` and ``tracked`` of a run."""

    def metrics(
        self,
        handle: str | AppHandle,
        tag: str | None = None,
        step: int | None = None,
        *,
        progress: bool = True,
    ) -> list[MetricPoint]:
        """The metric points the job logged, by tag then step; then its progress reports.

        Args:
            tag: only this metric (or progress operation).
            step: only points at this global step (progress reports have none).
            progress: include the progress reports (``kind == "progress"``).

        Raises:
            AppNotFoundError: the run store does not know the app.
        """
        with self._api("metrics") as call:
            data = run_lookup.read_tracked(self.store, call.target(parse_handle(handle)))
            return run_lookup.select_metrics(data, tag, step, progress)

    def progress(self, handle: str | AppHandle) -> list[MetricPoint]:
        """The latest progress report of each replica and operation, oldest first.

        Raises:
            AppNotFoundError: the run store does not know the app.
        """
        from torchrun_core.tracking.file_reader import read_progress

        with self._api("progress") as call:
            parsed = call.target(parse_handle(handle))
            root = run_lookup.file_root(self.store, parsed)
            return [] if root is None else read_progress(root, str(parsed))

    def checkpoints(self, handle: str | AppHandle) -> list[Checkpoint]:
        """The checkpoints the job recorded, by global step, each complete or not.

        Raises:
            AppNotFoundError: the run store does not know the app.
        """
        with self._api("checkpoints") as call:
            return run_lookup.read_tracked(
                self.store, call.target(parse_handle(handle))
            ).checkpoints

    def tracked(self, handle: str | AppHandle) -> RunData:
        """Everything the ``file`` tracker holds for the run.

        Metrics, progress, checkpoints, other artifacts, params and lineage sources.

        Raises:
            AppNotFoundError: the run store does not know the app.
        """
        with self._api("tracked") as call:
            return run_lookup.read_tracked(self.store, call.target(parse_handle(handle)))
