"""The Runner's read-back of what a job reported through its trackers.

Reads the ``file`` tracker's records (see :mod:`torchrun_core.tracking`)
from the root the run was launched with: the
``TORCHRUN_CORE_TRACKER_FILE_CONFIG`` recorded in its stored AppDef, else the
default root. Other trackers (MLflow...) are read with their own tools.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.runner_base import RunnerBase
from torchrun_core.runner_calls import app_not_found
from torchrun_core.specs.handle import AppHandle, parse_handle

if TYPE_CHECKING:
    from torchrun_core.tracking.records import Checkpoint, MetricPoint, RunData

_FILE_CONFIG_ENV = "TORCHRUN_CORE_TRACKER_FILE_CONFIG"


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
            data = self._tracked(call.target(parse_handle(handle)))
            points = data.metrics + (data.progress if progress else [])
            if tag is not None:
                points = [p for p in points if p.tag == tag]
            if step is not None:
                points = [p for p in points if p.step == step]
            return points

    def progress(self, handle: str | AppHandle) -> list[MetricPoint]:
        """The latest progress report of each replica and operation, oldest first.

        Raises:
            AppNotFoundError: the run store does not know the app.
        """
        from torchrun_core.tracking.file_reader import read_progress

        with self._api("progress") as call:
            parsed = call.target(parse_handle(handle))
            return read_progress(self._file_root(parsed), str(parsed))

    def checkpoints(self, handle: str | AppHandle) -> list[Checkpoint]:
        """The checkpoints the job recorded, by global step, each complete or not.

        Raises:
            AppNotFoundError: the run store does not know the app.
        """
        with self._api("checkpoints") as call:
            return self._tracked(call.target(parse_handle(handle))).checkpoints

    def tracked(self, handle: str | AppHandle) -> RunData:
        """Everything the ``file`` tracker holds for the run: metrics, progress,
        checkpoints, other artifacts, params and lineage sources.

        Raises:
            AppNotFoundError: the run store does not know the app.
        """
        with self._api("tracked") as call:
            return self._tracked(call.target(parse_handle(handle)))

    def _tracked(self, parsed: AppHandle) -> RunData:
        from torchrun_core.tracking.file_reader import read_run

        return read_run(self._file_root(parsed), str(parsed))

    def _file_root(self, parsed: AppHandle) -> Path:
        """The ``file`` tracker root the run was launched with."""
        from torchrun_core.tracking.file_layout import root_of

        record = self.store.get(str(parsed))
        if record is None:
            raise app_not_found(parsed)
        return root_of(_recorded_file_config(record.app_json))


def _recorded_file_config(app_json: str | None) -> str | None:
    """``TORCHRUN_CORE_TRACKER_FILE_CONFIG`` of the stored AppDef (plain JSON: no pydantic)."""
    if not app_json:
        return None
    try:
        roles: list[dict[str, Any]] = json.loads(app_json).get("roles") or []
    except (ValueError, AttributeError):
        return None
    for role in roles:
        value = (role.get("env") or {}).get(_FILE_CONFIG_ENV)
        if value:
            return str(value)
    return None
