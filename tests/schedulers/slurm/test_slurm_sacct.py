"""Finished jobs that squeue no longer lists are read from the real ``sacct`` (slurmdbd)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from torchrun_core.runner import Runner
from torchrun_core.schedulers.slurm.app_status import SlurmApp, app_status
from torchrun_core.schedulers.slurm.scheduler import SlurmScheduler
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.slurm

# sacct lags the controller by about 4-5 s (Slurm 22.05); allow several times that.
SACCT_LAG_BOUND = 30.0


class SqueueForgets:
    """A transport whose ``squeue --json`` lists no job, as after MinJobAge has passed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.commands: list[str] = []

    def run(self, command: str, **kwargs: Any) -> Any:
        """Run ``command`` on the real login node with squeue's answer emptied."""
        self.commands.append(command)
        return self.inner.run(command.replace("squeue --json", "echo '{\"jobs\": []}'"), **kwargs)


def _sacct_ended(apps: dict[str, SlurmApp], app_id: str) -> bool:
    """Whether sacct reported the app's job as ended (squeue's answer is emptied)."""
    found = apps.get(app_id)
    return found is not None and bool(found.jobs) and found.jobs[0].state.is_terminal


def test_finished_job_status_comes_from_sacct(
    runner: Runner, slurm_conn: dict[str, Any], session: str
) -> None:
    role = Role(name="main", image="", entrypoint="/bin/sh", args=["-c", "exit 3"])
    handle = runner.run(AppDef(name="sacct", roles=[role]), "slurm")
    assert runner.wait(handle, timeout=60).state is AppState.FAILED
    app_id = handle.app_id
    sched = SlurmScheduler(session, **slurm_conn)
    try:
        forgetful = SqueueForgets(sched.transport())
        deadline = time.monotonic() + SACCT_LAG_BOUND
        jobs = sched.apps([app_id], transport=forgetful)  # type: ignore[arg-type]
        while not _sacct_ended(jobs, app_id) and time.monotonic() < deadline:
            time.sleep(0.5)
            jobs = sched.apps([app_id], transport=forgetful)  # type: ignore[arg-type]
    finally:
        sched.close()
    assert "sacct --parsable2" in forgetful.commands[-1]
    assert app_id in jobs, f"sacct did not report job {app_id} within {SACCT_LAG_BOUND:.0f}s"
    status = app_status(jobs[app_id], str(handle))
    assert status.state is AppState.FAILED
    assert status.replica("main", 0).exit_code == 3
