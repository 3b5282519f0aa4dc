"""Retry policies on the local scheduler, and the logs every attempt keeps."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from local_apps import app_of, py_role

from torchrun_core.errors import InvalidInputError
from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.specs.app import Role
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus

Run = Callable[..., tuple[str, AppStatus]]

# Prints "<role>/<replica> attempt <n>" and marks that it did (a file in
# MARKS); then waits for the marks listed in WAIT_FOR, and fails on the
# attempts listed in FAIL_ON ("<role>/<replica>@<attempt>,...") or sleeps on
# those in SLEEP_ON.
SCRIPT = """
import os, sys, time
me = os.environ["TORCHRUN_CORE_ROLE"] + "/" + os.environ["TORCHRUN_CORE_REPLICA_ID"]
at = me + "@" + os.environ["TORCHRUN_CORE_ATTEMPT"]
print(me, "attempt", os.environ["TORCHRUN_CORE_ATTEMPT"], flush=True)
marks = os.environ["MARKS"]
open(os.path.join(marks, at.replace("/", "-")), "w").close()
for other in filter(None, os.environ.get("WAIT_FOR", "").split(",")):
    while not os.path.exists(os.path.join(marks, other.replace("/", "-"))):
        time.sleep(0.01)
if at in os.environ.get("SLEEP_ON", "").split(","):
    time.sleep(60)
sys.exit(1 if at in os.environ.get("FAIL_ON", "").split(",") else 0)
"""


@pytest.fixture(autouse=True)
def _marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("MARKS", str(marks))  # replicas inherit the launcher's env


def role(
    name: str,
    replicas: int = 1,
    fail_on: str = "",
    sleep_on: str = "",
    wait_for: str = "",
    **kw: Any,
) -> Role:
    env = {"FAIL_ON": fail_on, "SLEEP_ON": sleep_on, "WAIT_FOR": wait_for}
    return py_role(SCRIPT, name=name, num_replicas=replicas, env=env, **kw)


def attempts(status: AppStatus) -> dict[str, int]:
    return {f"{r.role}/{r.id}": r.attempt for rs in status.roles for r in rs.replicas}


def test_replica_policy_restarts_only_the_failed_replica(sched: LocalScheduler, run: Run) -> None:
    app = app_of(role("w", replicas=2, fail_on="w/1@0", max_retries=1, retry_policy="REPLICA"))
    app_id, status = run(app)
    assert status.state is AppState.SUCCEEDED
    assert attempts(status) == {"w/0": 0, "w/1": 1}
    assert status.num_restarts == 1
    assert list(sched.log_iter(app_id, "w", 1, attempt=0)) == ["w/1 attempt 0\n"]
    assert list(sched.log_iter(app_id, "w", 1, attempt=1)) == ["w/1 attempt 1\n"]
    assert list(sched.log_iter(app_id, "w", 1)) == ["w/1 attempt 0\n", "w/1 attempt 1\n"]
    assert list(sched.log_iter(app_id, "w", 0)) == ["w/0 attempt 0\n"]


def test_application_policy_restarts_every_replica(sched: LocalScheduler, run: Run) -> None:
    app = app_of(
        role("a", sleep_on="a/0@0"),  # still running when b fails: stopped, then restarted
        role("b", fail_on="b/0@0", wait_for="a/0@0", max_retries=1, retry_policy="APPLICATION"),
    )
    app_id, status = run(app)
    assert status.state is AppState.SUCCEEDED
    assert attempts(status) == {"a/0": 1, "b/0": 1}
    assert list(sched.log_iter(app_id, "a", 0)) == ["a/0 attempt 0\n", "a/0 attempt 1\n"]
    assert list(sched.log_iter(app_id, "b", 0, attempt=0)) == ["b/0 attempt 0\n"]


def test_role_policy_restarts_the_role_only(sched: LocalScheduler, run: Run) -> None:
    on_role: dict[str, Any] = {"max_retries": 1, "retry_policy": "ROLE"}
    app = app_of(
        role("x", 2, fail_on="x/0@0", sleep_on="x/1@0", wait_for="x/1@0,y/0@0", **on_role),
        role("y", sleep_on="y/0@0-never"),
    )
    _, status = run(app)
    assert status.state is AppState.SUCCEEDED
    assert attempts(status) == {"x/0": 1, "x/1": 1, "y/0": 0}


def test_retries_run_out(sched: LocalScheduler, run: Run) -> None:
    fails = "r/0@0,r/0@1,r/0@2,r/0@3"
    app_id, status = run(app_of(role("r", fail_on=fails, max_retries=2, retry_policy="REPLICA")))
    assert status.state is AppState.FAILED
    replica = status.replica("r", 0)
    assert (replica.attempt, replica.exit_code, status.num_restarts) == (2, 1, 2)
    assert list(sched.log_iter(app_id, "r", 0)) == [f"r/0 attempt {n}\n" for n in range(3)]
    log_dir = sched.session_dir / app_id / "logs" / "r" / "0"
    assert sorted(p.name for p in log_dir.glob("*.stdout")) == ["0.stdout", "1.stdout", "2.stdout"]


def test_retries_of_an_entrypoint_that_cannot_start(run: Run) -> None:
    app = app_of(
        Role(name="r", entrypoint="no-such-program-xyz", max_retries=2, retry_policy="REPLICA")
    )
    _, status = run(app)
    replica = status.replica("r", 0)
    assert status.state is AppState.FAILED
    assert (replica.attempt, replica.exit_code) == (2, 127)


def test_attempt_must_exist(sched: LocalScheduler, run: Run) -> None:
    app_id, _ = run(app_of(role("r")))
    with pytest.raises(InvalidInputError, match=r"attempts so far: 0\.\.0"):
        sched.log_iter(app_id, "r", 0, attempt=1)


def test_retry_logs_are_separate_files(sched: LocalScheduler, run: Run, tmp_path: Path) -> None:
    logs = tmp_path / "kept logs"
    app = app_of(role("r", fail_on="r/0@0", max_retries=1, retry_policy="REPLICA"))
    app_id, status = run(app, log_dir=str(logs))
    assert status.state is AppState.SUCCEEDED
    replica_dir = logs / app_id / "r" / "0"
    assert (replica_dir / "0.stdout").read_text() == "r/0 attempt 0\n"
    assert (replica_dir / "1.stdout").read_text() == "r/0 attempt 1\n"
    assert not (sched.session_dir / app_id / "logs").exists()
    assert os.path.exists(replica_dir / "1.idx")
