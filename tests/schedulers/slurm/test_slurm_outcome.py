"""An app's state from Slurm's records and its job dir, whatever the site's settings.

Stock clusters keep no job comment in accounting and forget finished jobs
after ``MinJobAge``; a controller can be down. These cases are built from
the records squeue/sacct give and what the batch script and cancel leave in
the job dir (:mod:`jobdir`), so each rule is checked on its own; the
cluster tests check the same end to end.
"""

from __future__ import annotations

import json

import pytest

from torchrun_core.schedulers.slurm.app_status import SlurmApp, app_status, resolved_state
from torchrun_core.schedulers.slurm.jobdir import JobDirState, dirs_command, parse_dirs
from torchrun_core.schedulers.slurm.status import (
    ControllerUnavailable,
    SlurmJob,
    parse_squeue,
    parse_status_output,
    status_command,
)
from torchrun_core.specs.state import AppState

S = AppState
TAG = "torchrun_core:s:w=2"


def _job(state: str, *, sacct: bool = False, comment: str = TAG, code: int | None = 0) -> SlurmJob:
    return SlurmJob(
        job_id="7", offset=0, slurm_state=state, exit_code=code, name="x", comment=comment,
        work_dir="/j", user="u", nodes="n[1-2]", from_sacct=sacct,
    )  # fmt: skip


def _state(app: SlurmApp) -> AppState:
    return resolved_state(app)[0]


def test_squeue_errors_mean_the_controller_is_down_not_that_no_job_exists() -> None:
    # What squeue --json of 22.05 prints, exit 0, while slurmctld is stopped.
    down = json.dumps(
        {
            "meta": {},
            "errors": [
                {
                    "error": "Unable to contact slurm controller (connect failure)",
                    "errno": 1001,
                    "source": "slurm_load_jobs",
                }
            ],
            "jobs": [],
        }
    )
    with pytest.raises(ControllerUnavailable, match="Unable to contact"):
        parse_squeue(down)
    with pytest.raises(ControllerUnavailable, match="exited 1"):
        parse_status_output("u\n@@torchrun_core:squeue-failed@@1\n@@torchrun_core:sacct@@\n")


def test_completing_is_still_running_even_when_cancelled() -> None:
    cancelled = JobDirState(exists=True, cancelled=True)
    assert _state(SlurmApp("7", [_job("COMPLETING")], TAG, cancelled)) is S.RUNNING
    assert _state(SlurmApp("7", [_job("COMPLETED")], TAG, cancelled)) is S.CANCELLED


def test_a_cancel_mark_outlives_squeue() -> None:
    assert _state(SlurmApp("7", [], TAG, JobDirState(exists=True, cancelled=True))) is S.CANCELLED


def test_the_batch_scripts_outcome_outlives_squeue_without_accounting() -> None:
    ended = JobDirState(exists=True, final=True, attempt=0, exit_code=3, codes="w:3@1=3,")
    app = SlurmApp("7", [], TAG, ended)
    status = app_status(app, "slurm://s/7")
    assert status is not None and status.state is S.FAILED
    assert [(r.state, r.exit_code) for r in status.roles[0].replicas] == [
        (S.SUCCEEDED, 0),
        (S.FAILED, 3),
    ]


def test_a_successful_outcome_outlives_squeue_too() -> None:
    ended = JobDirState(exists=True, final=True, attempt=0, exit_code=0, codes="w:0,")
    status = app_status(SlurmApp("7", [], TAG, ended), "slurm://s/7")
    assert status is not None and status.state is S.SUCCEEDED
    assert [r.state for r in status.roles[0].replicas] == [S.SUCCEEDED, S.SUCCEEDED]


def test_sacct_without_comment_keeps_the_state_of_a_recorded_app() -> None:
    # No job_comment in accounting: the tag comes from this machine's record.
    app = SlurmApp("7", [_job("TIMEOUT", sacct=True, comment="")], TAG, JobDirState(exists=True))
    assert _state(app) is S.FAILED


def test_a_job_gone_without_an_outcome_failed() -> None:
    state, message = resolved_state(SlurmApp("7", [], TAG, JobDirState(exists=True)))
    assert state is S.FAILED and "no outcome" in message
    assert app_status(SlurmApp("7", [], TAG, None), "slurm://s/7") is None


def test_a_sibling_stopped_after_a_failure_reads_cancelled_not_failed() -> None:
    ended = JobDirState(exists=True, final=True, attempt=0, exit_code=3, codes="w:137@0=?@1=3,")
    status = app_status(SlurmApp("7", [], TAG, ended), "slurm://s/7")
    assert status is not None
    assert [(r.state, r.exit_code) for r in status.roles[0].replicas] == [
        (S.CANCELLED, None),
        (S.FAILED, 3),
    ]
    assert status.replica("w", 0).message == "stopped after w/1 failed"
    assert status.failure_summary() == "w/1 exited with 3; w/0 was stopped after w/1 failed"


def test_a_replica_that_ended_shows_at_once_while_its_sibling_runs() -> None:
    running = JobDirState(exists=True, replica_codes={("w", 1): 3})
    status = app_status(SlurmApp("7", [_job("RUNNING", code=None)], TAG, running), "slurm://s/7")
    assert status is not None and status.state is S.RUNNING
    assert [r.state for r in status.roles[0].replicas] == [S.RUNNING, S.FAILED]


def test_job_dirs_are_read_in_the_status_round_trip(tmp_path: object) -> None:
    cmd = status_command(["7", "8"], {"7": "/j/a b", "8": "rel/dir"})
    assert cmd.count("squeue --json") == 1
    assert "'/j/a b'" in cmd  # quoted
    out = (
        "@@d 7\n@@ok\n1 0 3 w:3@1=3,\n@@cancel\n@@rc w-1.rc 3\n@@rc w-0.rc x\n"
        "@@d 8\n"  # a dir that is gone
    )
    states = parse_dirs(out)
    assert states["7"] == JobDirState(
        exists=True, final=True, attempt=0, exit_code=3, codes="w:3@1=3,", cancelled=True,
        replica_codes={("w", 1): 3},
    )  # fmt: skip
    assert states["8"] == JobDirState()
    assert "@@d 7" in dirs_command({"7": "/x"})


def test_the_scripts_outcome_decides_while_slurm_still_completes_the_job() -> None:
    # After a controller restart a finished job can read COMPLETING for a minute
    # (slurmd retries its step completion message): the script's outcome decides.
    ended = JobDirState(exists=True, final=True, attempt=0, exit_code=4, codes="w:4@0=4,")
    assert _state(SlurmApp("7", [_job("COMPLETING")], TAG, ended)) is S.FAILED
    assert _state(SlurmApp("7", [_job("RUNNING")], TAG, ended)) is S.FAILED
    # Not after a cancel: its stop may still be killing processes.
    cancelled = JobDirState(exists=True, final=True, exit_code=143, cancelled=True)
    assert _state(SlurmApp("7", [_job("COMPLETING")], TAG, cancelled)) is S.RUNNING


def test_a_sibling_killed_by_sigterm_without_its_mark_reads_stopped() -> None:
    # Slurm signals processes one by one: the entrypoint can die of the SIGTERM
    # before the task shell's own arrives, leaving 143 with no "stopped" mark.
    ended = JobDirState(exists=True, final=True, attempt=0, exit_code=3, codes="w:3@0=143@1=3,")
    status = app_status(SlurmApp("7", [], TAG, ended), "slurm://s/7")
    assert status is not None
    assert status.replica("w", 0).state is S.CANCELLED
    assert status.failure_summary() == "w/1 exited with 3; w/0 was stopped after w/1 failed"


def test_a_broken_setup_is_not_an_outage() -> None:
    from torchrun_core.errors import BackendError, SchedulerUnavailableError
    from torchrun_core.schedulers.slurm.scheduler import _squeue_error
    from torchrun_core.schedulers.slurm.status import SqueueFailed

    no_conf = _squeue_error(
        SqueueFailed("squeue exited 1", 1),
        "squeue: error: s_p_parse_file: Unable to read slurm.conf: No such file or directory\n",
        "localhost",
    )
    assert type(no_conf) is BackendError and "slurm.conf" in str(no_conf)
    missing = _squeue_error(SqueueFailed("squeue exited 127", 127), "sh: squeue: not found", "h")
    assert type(missing) is BackendError and "not installed" in str(missing)
    down = _squeue_error(
        SqueueFailed("squeue exited 1", 1),
        "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n",
        "h",
    )
    assert isinstance(down, SchedulerUnavailableError)
