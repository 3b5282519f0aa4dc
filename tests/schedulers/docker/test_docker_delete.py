"""Delete and the cancel grace period on a real dockerd: what delete removes, and when."""

from __future__ import annotations

from typing import Any

import pytest
from docker_apps import leftovers, shell_app

from torchrun_core.errors import AppNotFoundError
from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker

# PID 1 ignores SIGTERM unless it handles it: only the SIGKILL after the grace period stops it.
DEAF = "trap '' TERM; sleep 3000"


def test_delete_removes_an_ended_apps_containers_network_and_record(
    runner: Runner, docker_api: Any
) -> None:
    handle = runner.run(shell_app("true", replicas=2), "docker")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    containers, networks = leftovers(docker_api, handle.app_id)
    assert len(containers) == 2 and len(networks) == 1  # an ended app keeps them until now
    outcome = runner.delete(handle)
    assert outcome.ok and outcome.note == ""
    assert leftovers(docker_api, handle.app_id) == ([], [])
    assert runner.store.get(str(handle)) is None
    with pytest.raises(AppNotFoundError):
        runner.status(handle)
    with pytest.raises(AppNotFoundError):
        runner.delete(handle)


def test_delete_of_a_running_app_uses_the_grace_period_given(
    runner: Runner, docker_api: Any
) -> None:
    # With the app's own 10-minute grace period this would outlast the test's timeout.
    handle = runner.run(shell_app(DEAF), "docker", cfg={"grace_period": 600})
    assert runner.wait(handle, timeout=60, state=AppState.RUNNING).state is AppState.RUNNING
    assert runner.delete(handle, grace_period=0).ok
    assert leftovers(docker_api, handle.app_id) == ([], [])
    assert runner.store.get(str(handle)) is None


def test_cancel_many_with_a_grace_period(runner: Runner, docker_api: Any) -> None:
    handles = [runner.run(shell_app(DEAF), "docker", cfg={"grace_period": 600}) for _ in range(2)]
    for handle in handles:
        runner.wait(handle, timeout=60, state=AppState.RUNNING)
    outcomes = runner.cancel_many(scheduler="docker", grace_period=0)
    assert sorted(o.handle for o in outcomes) == sorted(str(h) for h in handles)
    assert all(o.ok and o.state is AppState.CANCELLED for o in outcomes)
    for handle in handles:
        assert leftovers(docker_api, handle.app_id) == ([], [])
        assert runner.status(handle).state is AppState.CANCELLED
