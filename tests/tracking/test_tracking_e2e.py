"""End to end: a real local job reports through ``torchrun_core.tracking``; Runner and CLI read."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli.cli_process import run_cli

from torchrun_core.errors import AppNotFoundError
from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState

JOB = textwrap.dedent(
    """
    import sys
    from torchrun_core.tracking import app_run

    run = app_run()
    run.log_params({"lr": 0.1})
    for step in range(50):
        run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_metric("acc", step / 50, step=step)
    run.report_progress("train", 50, 100, "steps")
    run.log_checkpoint("/ck/50.pt", step=50, complete=False)
    run.log_checkpoint("/ck/25.pt", step=25)
    run.add_source("local://default/prep")
    print(run.handle, run.trackers)
    """
)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env, timeout=90)


@pytest.fixture
def job(tmp_path: Path) -> Path:
    script = tmp_path / "job.py"
    script.write_text(JOB)
    return script


def test_runner_reads_back_what_a_local_job_reported(job: Path, state_dir: Path) -> None:
    with Runner("t") as runner:
        handle = runner.run_component("utils.python", ["--script", str(job), "--num_replicas", "2"])
        assert runner.wait(handle, timeout=90).state is AppState.SUCCEEDED
        assert list(runner.log_lines(handle)) == [f"{handle} ['file']\n"]
        points = runner.metrics(handle)
        metrics = [p for p in points if p.kind == "metric"]
        assert len(metrics) == 2 * 2 * 50
        assert {p.source for p in metrics} == {"python/0", "python/1"}
        loss = runner.metrics(handle, tag="loss", step=49)
        assert [(p.value, p.step) for p in loss] == [(1 / 50, 49)] * 2
        progress = runner.progress(handle)
        assert [(p.tag, p.value, p.final_value, p.units) for p in progress] == [
            ("train", 50, 100, "steps")
        ] * 2
        assert any(p.kind == "progress" for p in points)
        checkpoints = runner.checkpoints(handle)
        assert [(c.path, c.step, c.complete) for c in checkpoints] == [
            ("/ck/25.pt", 25, True),
            ("/ck/50.pt", 50, False),
        ]
        tracked = runner.tracked(handle)
        assert tracked.params == {"lr": 0.1}
        assert tracked.sources[0]["source"] == "local://default/prep"
        # The default root is under the launcher's state dir, and recorded in the app.
        assert (state_dir / "tracking" / "local" / "t").is_dir()
        with pytest.raises(AppNotFoundError):
            runner.metrics("local://t/no-such-app")


def test_cli_metrics_and_checkpoints(job: Path, tmp_path: Path) -> None:
    root = tmp_path / "elsewhere"
    env = {"TORCHRUN_CORE_TRACKER_FILE_CONFIG": str(root)}
    ran = cli("run", "--wait", "utils.python", "--script", str(job), env=env)
    assert ran.returncode == 0, ran.stderr
    handle = ran.stdout.split()[0]
    assert (root / "local").is_dir()  # the configured root, not the default one
    text = cli("metrics", handle)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["TAG", "STEP", "VALUE", "SOURCE"]
    assert lines[1].split() == ["acc", "0", "0", "python/0"]
    assert ["train", "50", "100", "steps", "python/0"] in [ln.split() for ln in lines]
    as_json = json.loads(cli("metrics", handle, "--tag", "loss", "--step", "3", "--json").stdout)
    assert as_json == [
        {
            "kind": "metric",
            "tag": "loss",
            "value": 0.25,
            "step": 3,
            "timestamp": as_json[0]["timestamp"],
            "source": "python/0",
        }
    ]
    checkpoints = cli("checkpoints", handle)
    rows = [ln.split() for ln in checkpoints.stdout.splitlines()]
    assert rows[0] == ["STEP", "STATUS", "RECORDED", "SOURCE", "PATH"]
    assert [(r[0], r[1], r[-1]) for r in rows[1:]] == [
        ("25", "complete", "/ck/25.pt"),
        ("50", "incomplete", "/ck/50.pt"),
    ]
    as_json = json.loads(cli("checkpoints", handle, "--json").stdout)
    assert [(c["step"], c["complete"]) for c in as_json] == [(25, True), (50, False)]
    missing = cli("metrics", "local://default/nope")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no app local://default/nope")
    bad = cli("metrics", handle, "--step", "x")
    assert bad.returncode == 2


def test_trackers_can_be_turned_off(job: Path, tmp_path: Path) -> None:
    no_trackers = {"TORCHRUN_CORE_TRACKERS": ""}
    ran = cli("run", "--wait", "utils.python", "--script", str(job), env=no_trackers)
    assert ran.returncode == 0, ran.stderr
    handle = ran.stdout.split()[0]
    assert "[]" in cli("log", handle).stdout  # the job had no tracker
    empty = cli("metrics", handle)
    assert (empty.returncode, empty.stdout) == (0, "")
    assert "no metrics recorded" in empty.stderr
    project = tmp_path / "project"
    project.mkdir()

    def dryrun_env() -> dict[str, str]:
        dry = subprocess.run(
            [sys.executable, "-m", "torchrun_core", "dryrun", "--json", "utils.echo"],
            capture_output=True,
            text=True,
            cwd=project,
            timeout=60,
            check=False,
        )
        assert dry.returncode == 0, dry.stderr
        env: dict[str, str] = json.loads(dry.stdout)["app"]["roles"][0]["env"]
        return env

    assert dryrun_env()["TORCHRUN_CORE_TRACKERS"] == "file"  # the default
    (project / ".torchrun_core.toml").write_text("[trackers.file]\nenabled = false\n")
    assert "TORCHRUN_CORE_TRACKERS" not in dryrun_env()
