"""Cancelling local apps, leaving no process behind, and a supervisor that dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from local_apps import app_of, process_gone, py_role, wait_for, wait_until

from torchrun_core.errors import AppNotFoundError
from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.specs.app import Role
from torchrun_core.specs.state import AppState

# Starts two background children, prints their pids and its own, and waits.
FAMILY = "sleep 1000 & echo $!; sleep 1000 & echo $!; echo $$; wait"


def printed_pids(sched: LocalScheduler, app_id: str, count: int, role: str = "r") -> list[int]:
    """The pids a replica printed, one per line, once it printed ``count`` of them."""
    found: list[str] = []

    def enough() -> bool:
        found[:] = list(sched.log_iter(app_id, role, 0))
        return len(found) >= count

    wait_until(enough, what=f"{count} pids in the log")
    return [int(line) for line in found[:count]]


def test_cancel_kills_replicas_and_their_children(sched: LocalScheduler) -> None:
    app = app_of(Role(name="r", entrypoint="sh", args=["-c", FAMILY], num_replicas=2))
    app_id = sched.schedule(sched.dryrun(app))
    pids = printed_pids(sched, app_id, 3)
    assert not any(process_gone(p) for p in pids)
    sched.cancel(app_id)
    status = sched.describe(app_id)
    assert status is not None and status.state is AppState.CANCELLED
    assert all(r.state is AppState.CANCELLED for r in status.roles[0].replicas)
    assert status.roles[0].replicas[0].exit_code == 128 + signal.SIGTERM
    assert [p for p in pids if not process_gone(p)] == []


def test_cancel_sigkills_after_the_grace_period(sched: LocalScheduler) -> None:
    stubborn = textwrap.dedent(
        """
        import os, signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-S", "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(1000)"])
        print(child.pid, flush=True)
        print(os.getpid(), flush=True)
        time.sleep(1000)
        """
    )
    app_id = sched.schedule(sched.dryrun(app_of(py_role(stubborn)), {"grace_period": 0.3}))
    pids = printed_pids(sched, app_id, 2)
    sched.cancel(app_id)
    status = sched.describe(app_id)
    assert status is not None and status.state is AppState.CANCELLED
    assert status.roles[0].replicas[0].exit_code == 128 + signal.SIGKILL
    assert [p for p in pids if not process_gone(p)] == []


def test_cancel_is_idempotent(sched: LocalScheduler) -> None:
    app_id = sched.schedule(sched.dryrun(app_of(Role(name="r", entrypoint="sleep", args=["100"]))))
    sched.cancel(app_id)  # maybe before the supervisor even started: still cancelled
    sched.cancel(app_id)
    assert sched.describe(app_id).state is AppState.CANCELLED  # type: ignore[union-attr]
    done = sched.schedule(sched.dryrun(app_of(Role(name="r", entrypoint="true"))))
    wait_for(sched, done)
    sched.cancel(done)
    assert sched.describe(done).state is AppState.SUCCEEDED  # type: ignore[union-attr]
    with pytest.raises(AppNotFoundError):
        sched.cancel("r-nosuchap")


CANCEL_ELSEWHERE = """
import sys
from torchrun_core.schedulers.local import LocalScheduler
LocalScheduler("test").cancel(sys.argv[1])
"""


def test_cancel_from_another_process(sched: LocalScheduler) -> None:
    app = app_of(Role(name="r", entrypoint="sh", args=["-c", FAMILY]))
    app_id = sched.schedule(sched.dryrun(app))
    pids = printed_pids(sched, app_id, 3)
    subprocess.run([sys.executable, "-c", CANCEL_ELSEWHERE, app_id], check=True, timeout=60)
    assert sched.describe(app_id).state is AppState.CANCELLED  # type: ignore[union-attr]
    assert [p for p in pids if not process_gone(p)] == []


def test_leftover_background_processes_are_killed_at_exit(sched: LocalScheduler) -> None:
    app_id = sched.schedule(
        sched.dryrun(app_of(Role(name="r", entrypoint="sh", args=["-c", "sleep 1000 & echo $!"])))
    )
    status = wait_for(sched, app_id)
    assert status.state is AppState.SUCCEEDED
    (pid,) = [int(line) for line in sched.log_iter(app_id, "r", 0)]
    assert process_gone(pid)


def test_supervisor_killed_means_failed_and_replicas_killed(sched: LocalScheduler) -> None:
    app = app_of(Role(name="r", entrypoint="sh", args=["-c", FAMILY]))
    app_id = sched.schedule(sched.dryrun(app))
    pids = printed_pids(sched, app_id, 3)
    state = json.loads((sched.session_dir / app_id / "state.json").read_text())
    supervisor = state["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: process_gone(supervisor), what="the supervisor to die")
    status = sched.describe(app_id)
    assert status is not None and status.state is AppState.FAILED
    assert "supervisor died" in status.message
    assert status.roles[0].replicas[0].state is AppState.FAILED
    wait_until(lambda: all(process_gone(p) for p in pids), what="the replicas to die")
    # Settled once: later readers see the same recorded failure, and cancel is a no-op.
    sched.cancel(app_id)
    assert sched.describe(app_id).message == status.message  # type: ignore[union-attr]
    assert [a.state for a in sched.list()] == [AppState.FAILED]


def test_watcher_wakes_when_the_supervisor_dies(sched: LocalScheduler) -> None:
    app_id = sched.schedule(sched.dryrun(app_of(Role(name="r", entrypoint="sleep", args=["100"]))))
    wait_until(lambda: sched.describe(app_id).state is AppState.RUNNING, what="RUNNING")  # type: ignore[union-attr]
    state = json.loads((sched.session_dir / app_id / "state.json").read_text())
    with sched.watch(app_id) as watcher:
        os.kill(state["supervisor"]["pid"], signal.SIGKILL)
        watcher.wait(30)  # returns on the socket's EOF, not after 30 s
        wait_until(lambda: sched.describe(app_id).is_terminal, what="FAILED")  # type: ignore[union-attr]


def test_sigterm_to_the_supervisor_cancels(sched: LocalScheduler) -> None:
    app = app_of(Role(name="r", entrypoint="sh", args=["-c", FAMILY]))
    app_id = sched.schedule(sched.dryrun(app))
    pids = printed_pids(sched, app_id, 3)
    state = json.loads((sched.session_dir / app_id / "state.json").read_text())
    os.kill(state["supervisor"]["pid"], signal.SIGTERM)
    status = wait_for(sched, app_id)
    assert status.state is AppState.CANCELLED
    assert [p for p in pids if not process_gone(p)] == []
