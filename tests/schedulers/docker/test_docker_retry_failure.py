"""A retry that the daemon refuses to start ends the app FAILED, with the daemon's reason."""

from __future__ import annotations

from typing import Any

import pytest
from docker_apps import APP_LABEL, shell_app

from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker


def test_a_retry_whose_network_was_removed_fails_the_app(runner: Runner, docker_api: Any) -> None:
    handle = runner.run(shell_app("sleep 300", max_retries=1), "docker", cfg={"grace_period": 1})
    assert runner.wait(handle, timeout=60, state=AppState.RUNNING).state is AppState.RUNNING
    label = {"label": [f"{APP_LABEL}={handle.app_id}"]}
    (container,) = docker_api.containers(filters=label)
    (network,) = docker_api.networks(filters=label)
    # Removed from outside: the replica loses its network, then fails.
    docker_api.disconnect_container_from_network(container["Id"], network["Id"], force=True)
    docker_api.remove_network(network["Id"])
    docker_api.kill(container["Id"])
    status = runner.wait(handle, timeout=60)  # was PENDING for ever: a WaitTimeoutError
    assert status.state is AppState.FAILED, status
    assert status.message.startswith("main/0 could not be restarted: ")
    assert f"network {network['Name']} not found" in status.message
    # Nothing half-made is left running or waiting to start (it may still be being removed).
    states = {c["State"] for c in docker_api.containers(all=True, filters=label)}
    assert states <= {"exited", "removing"}
