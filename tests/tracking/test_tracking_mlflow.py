"""The mlflow backend against a real local MLflow store (a ``file:`` store in tmp_path).

With ``CI=true`` a missing mlflow fails (the ``[dev]`` extra installs
mlflow-skinny); outside CI it skips.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from ci_rules import require_installed

from torchrun_core.tracking import AppRun

HANDLE = "local://default/mlf-1"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    require_installed(
        "mlflow", importlib.util.find_spec("mlflow") is not None, "pip install -e '.[dev]'"
    )
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps it behind a flag
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "tracking-test")
    return (tmp_path / "mlruns").as_uri()


def test_a_job_reports_to_a_real_mlflow_store(store: str) -> None:
    from mlflow.tracking import MlflowClient

    env = {
        "TORCHRUN_CORE_APP_HANDLE": HANDLE,
        "TORCHRUN_CORE_PARENT_RUN_ID": "local://default/parent",
        "TORCHRUN_CORE_ROLE": "trainer",
        "TORCHRUN_CORE_REPLICA_ID": "0",
        "TORCHRUN_CORE_TRACKERS": "mlflow",
        "TORCHRUN_CORE_TRACKER_MLFLOW_CONFIG": store,
    }
    with AppRun.from_env(env) as run:
        assert run.trackers == ["mlflow"]
        run.log_params({"lr": 0.1, "layers": 4})
        for step in range(1500):  # more than one log_batch
            run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_metrics({"acc": 0.5}, step=1499)
        run.report_progress("train", 1500, 3000, "steps")
        run.log_checkpoint("/ck/1500.pt", step=1500, complete=False)
        run.add_source("local://default/prep")
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("tracking-test")
    assert experiment is not None
    runs = client.search_runs(
        [experiment.experiment_id], f"tags.`torchrun_core.handle` = '{HANDLE}'"
    )
    assert len(runs) == 1
    found = runs[0]
    assert found.info.status == "FINISHED"
    assert found.info.run_name == "mlf-1/trainer/0"
    assert found.data.params == {"lr": "0.1", "layers": "4"}
    tags: dict[str, Any] = found.data.tags
    assert tags["torchrun_core.parent_run_id"] == "local://default/parent"
    assert tags["torchrun_core.progress.train"] == "1500/3000 steps"
    checkpoint = json.loads(tags["torchrun_core.checkpoint./ck/1500.pt"])
    assert (checkpoint["step"], checkpoint["complete"]) == (1500, False)
    history = client.get_metric_history(found.info.run_id, "loss")
    assert len(history) == 1500
    assert sorted((m.step, m.value) for m in history)[-1] == (1499, 1 / 1500)
    assert found.data.metrics["acc"] == 0.5
