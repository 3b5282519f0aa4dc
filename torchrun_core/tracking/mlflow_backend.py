"""The ``mlflow`` tracker (extra ``torchrun-core[mlflow]``): one MLflow run per reporting process.

Config: the MLflow tracking URI (``http://host:5000``, ``file:///path/mlruns``
with ``MLFLOW_ALLOW_FILE_STORE=true`` in recent MLflow, ``sqlite:///x.db``
with the full ``mlflow`` package); empty: MLflow's own default
(``MLFLOW_TRACKING_URI``). The experiment is ``MLFLOW_EXPERIMENT_NAME``, else
``torchrun_core``. Each process's run is named ``<app_id>/<role>/<replica>``
and tagged with the handle, parent run, role and replica
(``torchrun_core.*`` tags), so the replicas of one job are found with
``tags."torchrun_core.handle" = '<handle>'``.

Metrics are buffered and sent with ``log_batch`` (1000 per call). Progress
is a ``progress/<operation>`` metric plus a tag; artifacts, checkpoints and
sources are tags holding JSON (paths are recorded, not uploaded).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torchrun_core.tracking.records import RunContext

DEFAULT_EXPERIMENT = "torchrun_core"
BATCH = 1000  # MLflow's limit of metrics per log_batch call
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def _tag_key(*parts: str) -> str:
    return "torchrun_core." + ".".join(_TAG_UNSAFE.sub("_", p) for p in parts)


class MlflowBackend:
    """Reports to MLflow through ``MlflowClient``; imports MLflow when the job starts it.

    Args:
        config: the tracking URI; None: MLflow's default.
    """

    def __init__(self, config: str | None = None) -> None:
        from mlflow.tracking import MlflowClient  # fails early, with the import error

        self.client = MlflowClient(tracking_uri=config or None)
        self.run_id = ""
        self._metrics: list[Any] = []
        self._lock = threading.Lock()
        self._artifacts = 0

    def start(self, run: RunContext) -> None:
        """Find or create the experiment and create this process's run."""
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id if experiment else self.client.create_experiment(name)
        )
        app_id = run.handle.rpartition("/")[2]
        tags = {
            _tag_key("handle"): run.handle,
            _tag_key("role"): run.role,
            _tag_key("replica_id"): run.replica_id,
            _tag_key("host"): run.host,
        }
        if run.parent_run_id:
            tags[_tag_key("parent_run_id")] = run.parent_run_id
        created = self.client.create_run(
            experiment_id, tags=tags, run_name=f"{app_id}/{run.role or '?'}/{run.replica_id or '?'}"
        )
        self.run_id = created.info.run_id

    def log_params(self, params: Mapping[str, Any], timestamp: float) -> None:
        from mlflow.entities import Param

        items = [Param(str(k), str(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def log_metric(self, tag: str, value: float, step: int | None, timestamp: float) -> None:
        from mlflow.entities import Metric

        metric = Metric(tag, value, int(timestamp * 1000), step or 0)
        with self._lock:
            self._metrics.append(metric)
            full = len(self._metrics) >= BATCH
        if full:
            self.flush()

    def log_metrics(self, metrics: Mapping[str, float], step: int | None, timestamp: float) -> None:
        for tag, value in metrics.items():
            self.log_metric(tag, value, step, timestamp)

    def log_artifact(self, artifact: Mapping[str, Any], timestamp: float) -> None:
        record = {
            "name": artifact.get("n"),
            "path": artifact.get("p"),
            "kind": artifact.get("kind"),
            "metadata": artifact.get("md"),
        }
        if artifact.get("kind") == "checkpoint":
            record |= {"step": artifact.get("s"), "complete": artifact.get("c")}
            key = _tag_key("checkpoint", str(artifact.get("p")))
        else:
            key = _tag_key("artifact", str(artifact.get("n")))
        self.client.set_tag(self.run_id, key, json.dumps(record, default=str))

    def report_progress(
        self,
        operation: str,
        value: float,
        final_value: float | None,
        units: str | None,
        timestamp: float,
    ) -> None:
        self.log_metric(f"progress/{operation}", value, None, timestamp)
        shown = f"{value:g}" + ("" if final_value is None else f"/{final_value:g}")
        self.client.set_tag(
            self.run_id, _tag_key("progress", operation), f"{shown} {units or ''}".strip()
        )
        self.flush()

    def add_source(self, source: str, kind: str | None, timestamp: float) -> None:
        self._artifacts += 1
        record = json.dumps({"source": source, "kind": kind})
        self.client.set_tag(self.run_id, _tag_key("source", str(self._artifacts)), record)

    def flush(self) -> None:
        with self._lock:
            metrics, self._metrics = self._metrics, []
        for i in range(0, len(metrics), BATCH):
            self.client.log_batch(self.run_id, metrics=metrics[i : i + BATCH])

    def close(self) -> None:
        """Send what is buffered and mark the MLflow run FINISHED."""
        self.flush()
        if self.run_id:
            self.client.set_terminated(self.run_id)
            self.run_id = ""


__all__ = ["DEFAULT_EXPERIMENT", "MlflowBackend"]
