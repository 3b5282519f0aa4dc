"""Nothing descended from a replica outlives its app: not even a daemon that left its group.

The replicas here start a daemon the classic way (fork, ``setsid``, fork
again, the middle process exits) that ignores SIGTERM, so that signalling
the replica's process group cannot reach it: only the supervisor, as the
child subreaper the orphan is re-parented to, can find and kill it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import textwrap
from typing import Any

import pytest
from local_apps import app_of, process_gone, py_role, wait_for, wait_until

from torchrun_core.errors import InvalidInputError
from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.state import AppState

# Prints the daemon's pid, then the replica's own; exits with argv[1] ("wait": never).
DAEMONIZE = textwrap.dedent(
    """
    import os, signal, sys, time
    r, w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            os.write(w, str(os.getpid()).encode())
            os.close(w)
            time.sleep(1000)
        os._exit(0)
    os.close(w)
    daemon = int(os.read(r, 64))
    print(daemon, flush=True)
    print(os.getpid(), flush=True)
    if sys.argv[1] == "wait":
        time.sleep(1000)
    sys.exit(int(sys.argv[1]))
    """
)


def started(sched: LocalScheduler, app_id: str, attempt: int = 0) -> tuple[int, int]:
    """``(daemon pid, replica pid)`` once the replica printed them."""
    lines: list[str] = []

    def printed() -> bool:
        try:
            lines[:] = list(sched.log_iter(app_id, "r", 0, attempt=attempt))
        except InvalidInputError:  # no such attempt yet
            return False
        return len(lines) >= 2

    wait_until(printed, what="the replica to print its daemon's pid")
    return int(lines[0]), int(lines[1])


def daemon_app(exit_with: str, **fields: Any) -> AppDef:
    return app_of(py_role(DAEMONIZE, args=[exit_with], **fields))


def test_cancel_kills_a_daemon_that_left_the_replicas_group(sched: LocalScheduler) -> None:
    app_id = sched.schedule(sched.dryrun(daemon_app("wait"), {"grace_period": 0.2}))
    daemon, replica = started(sched, app_id)
    assert not process_gone(daemon)
    sched.cancel(app_id)
    status = sched.describe(app_id)
    assert status is not None and status.state is AppState.CANCELLED
    # cancel returns once the app is CANCELLED: by then nothing of it may run.
    assert process_gone(replica)
    assert process_gone(daemon)


def test_an_ended_apps_daemons_are_killed_before_it_ends(sched: LocalScheduler) -> None:
    for exit_with, end in (("0", AppState.SUCCEEDED), ("3", AppState.FAILED)):
        app_id = sched.schedule(sched.dryrun(daemon_app(exit_with), {"grace_period": 0.2}))
        status = wait_for(sched, app_id)
        assert status.state is end
        daemon, _ = started(sched, app_id)
        assert process_gone(daemon)  # already when the app's end was recorded


def test_an_application_retry_kills_the_first_attempts_daemon(sched: LocalScheduler) -> None:
    # Attempt 0 exits 3 (the role retries), attempt 1 waits until cancelled.
    code = DAEMONIZE.replace('sys.argv[1] == "wait"', 'os.environ["TORCHRUN_CORE_ATTEMPT"] == "1"')
    app = app_of(py_role(code, args=["3"], max_retries=1, retry_policy="APPLICATION"))
    app_id = sched.schedule(sched.dryrun(app, {"grace_period": 0.2}))
    first, _ = started(sched, app_id, attempt=0)
    second, _ = started(sched, app_id, attempt=1)
    # Attempt 1 was started only after every leftover of attempt 0 was gone.
    assert process_gone(first)
    assert not process_gone(second)
    sched.cancel(app_id)
    assert process_gone(second)


@pytest.mark.slow  # cancel first waits for the frozen supervisor to answer (5 s)
def test_a_cancel_that_must_kill_the_supervisor_kills_its_daemons_too(
    sched: LocalScheduler,
) -> None:
    app_id = sched.schedule(sched.dryrun(daemon_app("wait"), {"grace_period": 0}))
    daemon, replica = started(sched, app_id)
    state = json.loads((sched.session_dir / app_id / "state.json").read_text())
    supervisor = state["supervisor"]["pid"]
    os.kill(supervisor, signal.SIGSTOP)  # alive, but never answers
    try:
        sched.cancel(app_id, grace_period=0)
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed: as it should be
            os.kill(supervisor, signal.SIGCONT)
    assert sched.describe(app_id).state is AppState.CANCELLED  # type: ignore[union-attr]
    # The daemon was the stopped supervisor's child: killed with it, not left to init.
    wait_until(lambda: process_gone(supervisor), what="the supervisor to be gone")
    assert process_gone(replica)
    assert process_gone(daemon)
