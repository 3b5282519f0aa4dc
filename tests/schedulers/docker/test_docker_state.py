"""App states from container list entries (labels, State, Status), without a daemon."""

from __future__ import annotations

from typing import Any

import pytest

from torchrun_core.schedulers.docker.state import app_view, container_state, status_dict
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus


def entry(
    replica: int,
    state: str,
    status: str = "",
    *,
    attempt: int = 0,
    replicas: int = 2,
    max_retries: int = 0,
    policy: str = "APPLICATION",
) -> dict[str, Any]:
    labels = {
        "torchrun_core.app_id": "app-1", "torchrun_core.app_name": "app",
        "torchrun_core.role": "w", "torchrun_core.role_index": "0",
        "torchrun_core.replica_id": str(replica), "torchrun_core.num_replicas": str(replicas),
        "torchrun_core.attempt": str(attempt), "torchrun_core.max_retries": str(max_retries),
        "torchrun_core.retry_policy": policy,
    }  # fmt: skip
    return {
        "Id": f"id{replica}{attempt}", "Names": [f"/app-1-w-{replica}"], "Labels": labels,
        "State": state, "Status": status, "Created": 1000 + replica,
        "Ports": [{"PrivatePort": 80, "PublicPort": 3000, "IP": "127.0.0.1", "Type": "tcp"}],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("state", "status", "expected"),
    [
        ("created", "Created", (AppState.PENDING, None)),
        ("running", "Up 2 seconds", (AppState.RUNNING, None)),
        ("exited", "Exited (0) 1 second ago", (AppState.SUCCEEDED, 0)),
        ("exited", "Exited (137) 1 second ago", (AppState.FAILED, 137)),
        ("dead", "Dead", (AppState.FAILED, None)),
    ],
)
def test_container_state(state: str, status: str, expected: tuple[AppState, int | None]) -> None:
    assert container_state({"State": state, "Status": status})[:2] == expected


def never() -> bool:
    raise AssertionError("the supervisor is asked only when a retry is pending")


def test_no_containers_is_not_found_never_succeeded() -> None:
    assert app_view("app-1", [], never) is None


def test_states_of_the_whole_app() -> None:
    ok = "Exited (0) now"
    cases = [
        ([entry(0, "running"), entry(1, "exited", ok)], AppState.RUNNING),
        ([entry(0, "created"), entry(1, "created")], AppState.PENDING),
        ([entry(0, "exited", ok), entry(1, "exited", ok)], AppState.SUCCEEDED),
        ([entry(0, "running"), entry(1, "exited", "Exited (3) now")], AppState.FAILED),
        ([entry(0, "exited", ok)], AppState.FAILED),  # replica 1's container is gone
    ]
    for containers, expected in cases:
        view = app_view("app-1", containers, lambda: False)
        assert view is not None and view.state is expected, containers


def test_the_culprit_is_named_before_the_replicas_stopped_for_it() -> None:
    containers = [entry(0, "exited", "Exited (143) now"), entry(1, "exited", "Exited (3) now")]
    view = app_view("app-1", containers, lambda: False)
    assert view is not None and view.message == "w/1 exited with 3"


def test_a_retryable_failure_is_running_only_while_supervised() -> None:
    containers = [
        entry(0, "running", max_retries=1),
        entry(1, "exited", "Exited (3) now", max_retries=1),
    ]
    for alive, expected in ((True, AppState.RUNNING), (False, AppState.FAILED)):
        view = app_view("app-1", containers, lambda alive=alive: alive)  # type: ignore[misc]
        assert view is not None and view.state is expected


def test_replicas_an_application_retry_replaces_are_pending() -> None:
    # Replica 0 is already at attempt 1; replica 1 (attempt 0) was stopped for the retry.
    containers = [
        entry(0, "running", attempt=1, max_retries=2),
        entry(1, "exited", "Exited (143) now", max_retries=2),
    ]
    view = app_view("app-1", containers, never)
    assert view is not None and view.state is AppState.RUNNING
    assert view.roles[0].replicas[1].state is AppState.PENDING


def test_the_highest_attempt_is_current_and_counts_restarts() -> None:
    containers = [
        entry(1, "exited", "Exited (3) then", attempt=0, policy="REPLICA", max_retries=2),
        entry(1, "exited", "Exited (0) now", attempt=1, policy="REPLICA", max_retries=2),
        entry(0, "exited", "Exited (0) now", policy="REPLICA", max_retries=2),
    ]
    view = app_view("app-1", containers, never)
    assert view is not None and view.state is AppState.SUCCEEDED
    status = AppStatus.model_validate(status_dict(view, "docker://s/app-1"))
    assert status.num_restarts == 1
    assert [(r.id, r.attempt, r.exit_code) for r in status.roles[0].replicas] == [
        (0, 0, 0),
        (1, 1, 0),
    ]
    assert status.roles[0].replicas[0].message == "ports 80->127.0.0.1:3000"
    assert status.roles[0].replicas[0].hostname == "app-1-w-0"


def test_cancelling_reads_as_cancelled() -> None:
    containers = [entry(0, "exited", "Exited (143) now"), entry(1, "running")]
    view = app_view("app-1", containers, never, cancelling=True)
    assert view is not None and view.state is AppState.CANCELLED


def test_a_recorded_failure_makes_the_app_failed_with_its_reason() -> None:
    # The supervisor's retry container could not start; it removed it and gave up.
    containers = [entry(0, "exited", "Exited (137) now", replicas=1, max_retries=1)]
    reason = "w/0 could not be restarted: network n not found"
    view = app_view("app-1", containers, never, failure=reason)
    assert view is not None and (view.state, view.message) == (AppState.FAILED, reason)
    cancelled = app_view("app-1", containers, never, cancelling=True, failure=reason)
    assert cancelled is not None and cancelled.state is AppState.CANCELLED


def test_a_retry_container_never_started_is_pending_only_while_supervised() -> None:
    # A supervisor killed between creating attempt 1 and starting it: nothing ever will.
    containers = [
        entry(0, "exited", "Exited (3) then", replicas=1, max_retries=1),
        entry(0, "created", "Created", attempt=1, replicas=1, max_retries=1),
    ]
    for alive, expected in ((True, AppState.PENDING), (False, AppState.FAILED)):
        view = app_view("app-1", containers, lambda alive=alive: alive)  # type: ignore[misc]
        assert view is not None and view.state is expected
    assert view.message == "w/0 attempt 1 was created but never started"


def test_the_scheduler_reports_the_replicas_stopped_for_a_failure_as_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from torchrun_core.schedulers.docker.scheduler import DockerScheduler

    containers = [entry(0, "exited", "Exited (143) now"), entry(1, "exited", "Exited (3) now")]
    sched = DockerScheduler("s")
    monkeypatch.setattr(sched, "_view", lambda app_id: app_view(app_id, containers, never))
    status = sched.describe("app-1")
    assert status is not None and status.state is AppState.FAILED
    stopped = status.replica("w", 0)
    assert (stopped.state, stopped.exit_code) == (AppState.CANCELLED, 143)
    assert stopped.message.startswith("stopped after w/1 failed")
    assert status.failure_summary() == "w/1 exited with 3; w/0 was stopped after w/1 failed"
