"""The local scheduler's grace period override and delete, with real processes."""

from __future__ import annotations

import os
import signal
import textwrap
from pathlib import Path

import pytest
from local_apps import app_of, process_gone, py_role, wait_for, wait_until

from torchrun_core.errors import AppNotFoundError
from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.schedulers.local.supervisor_io import cancel_line, parse_cancel
from torchrun_core.specs.app import Role
from torchrun_core.specs.state import AppState

# Ignores SIGTERM, prints its pid, then sleeps.
STUBBORN = textwrap.dedent(
    """
    import os, signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print(os.getpid(), flush=True)
    time.sleep(100000)
    """
)


def pid_of(sched: LocalScheduler, app_id: str) -> int:
    found: list[str] = []

    def printed() -> bool:
        found[:] = list(sched.log_iter(app_id, "r", 0))
        return bool(found)

    wait_until(printed, what="the replica's pid")
    return int(found[0])


def test_a_cancel_grace_period_overrides_the_apps(sched: LocalScheduler) -> None:
    # With the app's 10-minute grace period this test would time out (pytest-timeout).
    app_id = sched.schedule(sched.dryrun(app_of(py_role(STUBBORN)), {"grace_period": 600}))
    pid = pid_of(sched, app_id)
    sched.cancel(app_id, grace_period=0)
    status = sched.describe(app_id)
    assert status is not None and status.state is AppState.CANCELLED
    assert status.roles[0].replicas[0].exit_code == 128 + signal.SIGKILL
    assert process_gone(pid)


def test_cancel_lines_carry_the_grace_period() -> None:
    for grace in (None, 0.0, 2.5, 600.0):
        request = parse_cancel(cancel_line(grace))
        assert request is not None and request.grace_period == grace
    for bad in (b"cancel -1\n", b"cancel nan\n", b"cancel inf\n", b"cancel soon\n"):
        request = parse_cancel(bad)
        assert request is not None and request.grace_period is None  # the app's own
    assert parse_cancel(b"hello\n") is None
    assert parse_cancel(b"") is None


def test_delete_stops_a_running_app_and_removes_its_files(
    sched: LocalScheduler, tmp_path: Path
) -> None:
    logs = tmp_path / "my logs"
    app = app_of(py_role(STUBBORN))
    app_id = sched.schedule(sched.dryrun(app, {"log_dir": str(logs), "grace_period": 600}))
    pid = pid_of(sched, app_id)
    assert (sched.session_dir / app_id).is_dir() and (logs / app_id).is_dir()
    sched.delete(app_id, grace_period=0)
    assert process_gone(pid)
    assert not (sched.session_dir / app_id).exists()
    assert not (logs / app_id).exists() and logs.is_dir()  # only the app's own log dir goes
    assert sched.describe(app_id) is None
    assert app_id not in [a.app_id for a in sched.list()]
    with pytest.raises(AppNotFoundError):
        sched.delete(app_id)


def test_delete_of_an_ended_app_keeps_the_others(sched: LocalScheduler) -> None:
    done = sched.schedule(sched.dryrun(app_of(Role(name="r", entrypoint="true"))))
    kept = sched.schedule(sched.dryrun(app_of(Role(name="r", entrypoint="true"))))
    assert wait_for(sched, done).state is AppState.SUCCEEDED
    assert wait_for(sched, kept).state is AppState.SUCCEEDED
    sched.delete(done)
    assert not (sched.session_dir / done).exists()
    assert [a.app_id for a in sched.list()] == [kept]
    assert list(sched.log_iter(kept, "r", 0)) == []


def test_delete_after_the_supervisor_died(sched: LocalScheduler) -> None:
    app_id = sched.schedule(sched.dryrun(app_of(py_role(STUBBORN))))
    pid = pid_of(sched, app_id)
    state = sched._state(app_id)
    assert state is not None
    supervisor = state["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGKILL)
    wait_until(lambda: process_gone(supervisor), what="the supervisor to die")
    sched.delete(app_id)
    assert process_gone(pid)  # settled as FAILED first: its replicas were killed
    assert not (sched.session_dir / app_id).exists()
