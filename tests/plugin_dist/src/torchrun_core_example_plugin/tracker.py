"""The plugin's tracker, ``example``: every report of a job as one JSON line in a file.

A job reports through ``torchrun_core.tracking.app_run()``. When the launcher
configured this tracker (``Runner(tracker_config={"example": "/tmp/r.jsonl"})``),
the Runner puts ``TORCHRUN_CORE_TRACKERS=example`` and
``TORCHRUN_CORE_TRACKER_EXAMPLE_CONFIG=/tmp/r.jsonl`` in the job's environment,
and the job's AppRun makes this backend as ``create_tracker(config)`` (the
config string, or None), calls :meth:`ExampleTracker.start` once, then the
``log_*`` methods. A backend that raises is dropped with a warning: tracking
never breaks the job.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torchrun_core.plugin import RunContext


class ExampleTracker:
    """Buffers reports and appends them to a JSON-lines file on flush (a TrackerBackend)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._pending: list[dict[str, Any]] = []
        self._run: RunContext | None = None

    def _add(self, kind: str, timestamp: float, **fields: Any) -> None:
        run = self._run
        who = {"handle": run.handle, "source": run.source} if run else {}
        self._pending.append({"kind": kind, "timestamp": timestamp, **who, **fields})

    def start(self, run: RunContext) -> None:
        self._run = run
        self._add("start", time.time(), parent=run.parent_run_id)  # start() gets no timestamp

    def log_params(self, params: Mapping[str, Any], timestamp: float) -> None:
        self._add("params", timestamp, params=dict(params))

    def log_metric(self, tag: str, value: float, step: int | None, timestamp: float) -> None:
        self._add("metric", timestamp, tag=tag, value=value, step=step)

    def log_metrics(self, metrics: Mapping[str, float], step: int | None, timestamp: float) -> None:
        for tag, value in metrics.items():
            self.log_metric(tag, value, step, timestamp)

    def log_artifact(self, artifact: Mapping[str, Any], timestamp: float) -> None:
        self._add("artifact", timestamp, artifact=dict(artifact))

    def report_progress(
        self,
        operation: str,
        value: float,
        final_value: float | None,
        units: str | None,
        timestamp: float,
    ) -> None:
        self._add("progress", timestamp, operation=operation, value=value, final=final_value)

    def add_source(self, source: str, kind: str | None, timestamp: float) -> None:
        self._add("source", timestamp, source=source, source_kind=kind)

    def flush(self) -> None:
        if not self._pending:
            return
        text = "".join(json.dumps(r, default=str) + "\n" for r in self._pending)
        self._pending.clear()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One append of whole lines: replicas of a job may share the file.
        with self.path.open("a", encoding="utf-8") as f:
            f.write(text)

    def close(self) -> None:
        self.flush()


def create_tracker(config: str | None) -> ExampleTracker:
    """The factory the plugin registers: the config is the file to append to."""
    if not config:
        raise ValueError("the example tracker needs a file path as its config")
    return ExampleTracker(config)
