"""What users' clusters do to an app: TERM-deaf jobs, failed replicas, a controller outage,
many live apps, and runs looked up later from another process.

Every test runs on both test clusters (``site`` and ``stock``: see conftest),
so nothing here may depend on one cluster's settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from slurm_faults import SlurmCluster

from torchrun_core.errors import SchedulerUnavailableError
from torchrun_core.runner import Runner
from torchrun_core.schedulers.slurm.scheduler import SlurmScheduler
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.slurm

S = AppState
# A replica that says it is up, then ignores SIGTERM (itself, or through its child).
TERM_DEAF = {
    "itself": "trap '' TERM; echo up; sleep 300",
    "child": "sh -c \"trap '' TERM; sleep 300\" & echo up; wait",
}


def _app(name: str, script: str, replicas: int = 1, *more: Role) -> AppDef:
    role = Role(name="main", image="", entrypoint="/bin/sh", args=["-c", script],
                num_replicas=replicas)  # fmt: skip
    return AppDef(name=name, roles=[role, *more])


def _slurm(runner: Runner) -> SlurmScheduler:
    sched = runner.scheduler("slurm")
    assert isinstance(sched, SlurmScheduler)
    return sched


def _await_line(runner: Runner, handle: AppHandle, line: str, k: int = 0) -> None:
    """Block until replica ``k`` printed ``line`` (so its traps are set)."""
    sched = _slurm(runner)
    job_dir = sched.locate(handle.app_id)[2]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = sched.transport().read_from(f"{job_dir}/main-{k}.out", 0) or b""
        if line.encode() in out:
            return
        time.sleep(0.2)
    raise AssertionError(f"replica {k} of {handle} never printed {line!r}")


def _left_running(cluster: SlurmCluster, runner: Runner, handle: AppHandle) -> list[Any]:
    job_dir = _slurm(runner).locate(handle.app_id)[2]
    return cluster.job_processes(handle.app_id, job_dir)


# -- cancel: nothing is left, and the app reads CANCELLED once cancel returns ----------
@pytest.mark.parametrize("grace", [None, 1.0], ids=["no-grace", "grace-1s"])
@pytest.mark.parametrize("deaf", sorted(TERM_DEAF))
def test_cancel_leaves_no_term_deaf_process(
    runner: Runner, slurm_cluster: SlurmCluster, deaf: str, grace: float | None
) -> None:
    handle = runner.run(_app("deaf", TERM_DEAF[deaf]), "slurm")
    _await_line(runner, handle, "up")
    assert _left_running(slurm_cluster, runner, handle)  # the check sees the job's processes
    runner.cancel(handle, grace)
    # Once cancel returns: CANCELLED, in the store too, and nothing of the app runs.
    assert runner.status(handle).state is S.CANCELLED
    assert runner.store.state(str(handle)) is S.CANCELLED
    assert _left_running(slurm_cluster, runner, handle) == []


def test_a_grace_override_shorter_than_killwait_is_honoured(
    runner: Runner, slurm_cluster: SlurmCluster
) -> None:
    handle = runner.run(_app("deaf", TERM_DEAF["itself"]), "slurm")
    _await_line(runner, handle, "up")
    start = time.monotonic()
    runner.cancel(handle, grace_period=1.0)
    took = time.monotonic() - start
    print(f"cancel --grace-period 1 of a TERM-deaf app ({slurm_cluster.name}): {took:.1f} s")
    assert _left_running(slurm_cluster, runner, handle) == []
    assert runner.status(handle).state is S.CANCELLED


# -- a failed replica ends the app, its siblings stopped ------------------------------
FAIL_RANK1 = 'if [ "$TORCHRUN_CORE_REPLICA_ID" = 1 ]; then sleep 1; exit 3; fi; echo up; sleep 90'


def test_a_failed_replica_stops_its_sibling(runner: Runner, slurm_cluster: SlurmCluster) -> None:
    handle = runner.run(_app("sib", FAIL_RANK1, replicas=2), "slurm")
    # Without the stop, rank 0 would run its 90 s and the wait would time out.
    status = runner.wait(handle, timeout=45)
    assert status.state is S.FAILED
    assert (status.replica("main", 1).state, status.replica("main", 1).exit_code) == (S.FAILED, 3)
    assert status.replica("main", 0).state is S.CANCELLED  # stopped, not failed
    assert _left_running(slurm_cluster, runner, handle) == []


def test_a_failed_role_stops_the_other_roles(runner: Runner, slurm_cluster: SlurmCluster) -> None:
    other = Role(name="ps", image="", entrypoint="/bin/sh", args=["-c", "sleep 90"])
    handle = runner.run(_app("het", "sleep 2; exit 4", 1, other), "slurm")
    status = runner.wait(handle, timeout=45)
    assert status.state is S.FAILED
    assert status.replica("main", 0).exit_code == 4
    assert _left_running(slurm_cluster, runner, handle) == []


def test_run_wait_of_a_failed_replica_ends_at_once(slurm_cluster: SlurmCluster) -> None:
    conn = slurm_cluster.conn
    cfg = ",".join(f"{k}={v}" for k, v in conn.items())
    argv = [sys.executable, "-m", "torchrun_core", "run", "--wait", "-s", "slurm",
            "--cfg", cfg,
            "utils.sh", "--num_replicas", "2", FAIL_RANK1]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert done.returncode == 1, done.stderr
    assert "exited with 3" in done.stderr
    assert "None" not in done.stderr


# -- a controller outage: unavailable, never "not found"; wait rides it out -----------
def test_wait_rides_out_a_controller_outage(runner: Runner, slurm_cluster: SlurmCluster) -> None:
    handle = runner.run(_app("outage", "echo up; sleep 6; exit 4"), "slurm")
    _await_line(runner, handle, "up")
    outcome: dict[str, Any] = {}

    def wait() -> None:
        try:
            outcome["status"] = runner.wait(handle, timeout=240)
        except Exception as err:  # reported by the assertions below
            outcome["error"] = err

    waiter = threading.Thread(target=wait)
    with slurm_cluster.controller_down():
        waiter.start()
        time.sleep(2)
        # status is one-shot: "unavailable" (exit 1), never "no such app" (exit 2).
        with pytest.raises(SchedulerUnavailableError, match="does not answer"):
            runner.status(handle)
        cli = subprocess.run(
            [sys.executable, "-m", "torchrun_core", "status", str(handle)],
            capture_output=True, text=True, timeout=60, env=os.environ.copy(),
        )  # fmt: skip
        assert cli.returncode == 1, cli.stderr
        assert cli.stderr.startswith("error: ") and "Traceback" not in cli.stderr
        time.sleep(18)  # the app ends (exit 4) while the controller is down
        assert waiter.is_alive()
    waiter.join(timeout=240)
    assert "error" not in outcome, outcome.get("error")
    status = outcome["status"]
    assert status.state is S.FAILED
    assert status.replica("main", 0).exit_code == 4


# -- one round trip per cluster; runs found again from another process -----------------
def test_list_of_many_live_apps_is_one_round_trip(runner: Runner) -> None:
    handles = [runner.run(_app(f"many{i}", "sleep 60"), "slurm") for i in range(6)]
    sched = _slurm(runner)
    before = sched.transport().commands_run  # type: ignore[attr-defined]
    page = runner.list()
    assert sched.transport().commands_run - before == 1  # type: ignore[attr-defined]
    assert {r.handle for r in page} >= {str(h) for h in handles}
    runner.cancel_many(handles, grace_period=0)


def test_a_run_is_found_from_a_runner_with_other_defaults(
    runner: Runner, session: str, slurm_cluster: SlurmCluster
) -> None:
    handle = runner.run(_app("found", "sleep 2; exit 5"), "slurm")
    # A new process with no slurm params (it would ask localhost) finds the app on its cluster.
    with Runner(session) as other:
        assert other.wait(handle, timeout=60).state is S.FAILED
        assert other.status(handle).replica("main", 0).exit_code == 5
        assert {r.handle: r.state for r in other.list()}[str(handle)] is S.FAILED


def test_status_outlives_squeue_without_accounting_comments(
    runner: Runner, session: str, slurm_cluster: SlurmCluster
) -> None:
    failed = runner.run(_app("forgot", "exit 6"), "slurm")
    cancelled = runner.run(_app("forgotc", "sleep 60"), "slurm")
    runner.wait(cancelled, timeout=60, state=S.RUNNING)
    runner.cancel(cancelled)
    assert runner.wait(failed, timeout=60).state is S.FAILED
    if slurm_cluster.name == "stock":  # MinJobAge=5: wait until squeue has forgotten both
        sched = _slurm(runner)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            # -t all: also the ended jobs squeue --json (what status reads) still lists.
            out = sched.transport().run("squeue -h -t all -o %i").stdout.split()
            if failed.app_id not in out and cancelled.app_id not in out:
                break
            time.sleep(1)
        else:
            raise AssertionError("squeue never forgot the jobs")
    with Runner(session) as fresh:
        status = fresh.scheduler("slurm").describe(failed.app_id)
        assert status is not None and status.state is S.FAILED
        assert status.replica("main", 0).exit_code == 6
        gone = fresh.scheduler("slurm").describe(cancelled.app_id)
        assert gone is not None and gone.state is S.CANCELLED
        job_dir = _slurm(fresh).locate(failed.app_id)[2]
        fresh.delete(failed)
        assert _slurm(fresh).transport().stat(job_dir) is None


def test_rank0_host_is_reachable_from_every_replica(runner: Runner) -> None:
    resolve = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"
    script = f'python3 -c "{resolve}" "$TORCHRUN_CORE_RANK0_HOST"'
    handle = runner.run(_app("rank0", script, replicas=2), "slurm")
    status = runner.wait(handle, timeout=60)
    logs = [list(runner.log_lines(handle, "main", k)) for k in (0, 1)]
    assert status.state is S.SUCCEEDED, logs
    assert logs[0] == logs[1] and len(logs[0]) == 1


def test_a_followed_log_survives_sshd_dying_mid_stream(
    runner: Runner, slurm_cluster: SlurmCluster
) -> None:
    script = 'i=1; while [ "$i" -le 60 ]; do echo "line $i of 60"; i=$((i + 1)); sleep 0.05; done'
    handle = runner.run(_app("stream", script), "slurm")
    _await_line(runner, handle, "line 1 of 60")
    lines: list[str] = []
    follow = iter(runner.log_lines(handle, should_tail=True))
    lines.append(next(follow))
    slurm_cluster.restart_sshd()  # every SSH connection drops, mid-stream
    lines.extend(follow)
    assert lines == [f"line {i} of 60\n" for i in range(1, 61)]
    assert runner.wait(handle, timeout=60).state is S.SUCCEEDED
