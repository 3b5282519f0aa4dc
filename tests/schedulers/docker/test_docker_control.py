"""Cancel, retries and failed submissions on a real dockerd: nothing is left behind."""

from __future__ import annotations

from typing import Any

import pytest
from docker_apps import leftovers, shell_app

from torchrun_core.errors import InvalidInputError
from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker


def test_cancel_stops_and_removes_every_container_and_the_network(
    runner: Runner, docker_api: Any
) -> None:
    handle = runner.run(shell_app("sleep 300", replicas=2), "docker")
    assert runner.wait(handle, timeout=60, state=AppState.RUNNING).state is AppState.RUNNING
    containers, networks = leftovers(docker_api, handle.app_id)
    assert len(containers) == 2 and len(networks) == 1
    runner.cancel(handle)
    assert leftovers(docker_api, handle.app_id) == ([], [])
    assert runner.status(handle).state is AppState.CANCELLED
    runner.cancel(handle)  # idempotent


def test_cancel_of_an_ended_app_cleans_it_up_and_keeps_its_state(
    runner: Runner, docker_api: Any
) -> None:
    handle = runner.run(shell_app("true"), "docker")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    runner.cancel(handle)
    assert leftovers(docker_api, handle.app_id) == ([], [])
    assert runner.status(handle).state is AppState.SUCCEEDED


def test_an_app_whose_containers_are_gone_is_not_found_never_succeeded(
    runner: Runner, docker_api: Any, session: str
) -> None:
    sched = runner.scheduler("docker")
    app_id = sched.submit(shell_app("true"))
    with sched.watch(app_id) as watcher:
        while not (status := sched.describe(app_id)) or not status.is_terminal:
            watcher.wait(1.0)
    for container in docker_api.containers(
        all=True, filters={"label": [f"torchrun_core.app_id={app_id}"]}
    ):
        docker_api.remove_container(container["Id"], force=True)
    assert sched.describe(app_id) is None


@pytest.mark.parametrize("policy", ["APPLICATION", "REPLICA"])
def test_retries_recreate_containers_and_keep_each_attempt(runner: Runner, policy: str) -> None:
    # Replica 1 fails in its first two attempts; the third succeeds.
    script = (
        'echo "attempt $TORCHRUN_CORE_ATTEMPT"; '
        '[ "$TORCHRUN_CORE_REPLICA_ID" = 1 ] && [ "$TORCHRUN_CORE_ATTEMPT" -lt 2 ] && exit 7; '
        "sleep 0.5"
    )
    app = shell_app(script, replicas=2, max_retries=2, retry_policy=policy)
    handle = runner.run(app, "docker")
    status = runner.wait(handle, timeout=90)
    assert status.state is AppState.SUCCEEDED, status
    assert status.num_restarts == 2
    attempts = [r.attempt for r in status.roles[0].replicas]
    assert attempts == ([2, 2] if policy == "APPLICATION" else [0, 2])
    assert list(runner.log_lines(handle, "main", 1)) == [f"attempt {a}\n" for a in range(3)]
    assert list(runner.log_lines(handle, "main", 1, attempt=1)) == ["attempt 1\n"]


def test_a_failure_without_retries_left_stops_the_other_replicas(runner: Runner) -> None:
    script = '[ "$TORCHRUN_CORE_REPLICA_ID" = 1 ] && exit 5; sleep 300'
    handle = runner.run(shell_app(script, replicas=2), "docker", cfg={"grace_period": 2})
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.FAILED
    assert status.message == "main/1 exited with 5"
    # The supervisor stops replica 0 (SIGTERM through docker's init).
    sched = runner.scheduler("docker")
    with sched.watch(handle.app_id) as watcher:
        for _ in range(100):
            survivor = sched.describe(handle.app_id)
            assert survivor is not None
            if survivor.replica("main", 0).state is not AppState.RUNNING:
                break
            watcher.wait(1.0)
    assert survivor.replica("main", 0).exit_code == 143


def test_missing_image_is_one_clear_error_and_leaves_nothing(
    runner: Runner, docker_api: Any
) -> None:
    app = AppDef(name="noimg", roles=[Role(name="r", image="nosuch/image:0", entrypoint="true")])
    with pytest.raises(InvalidInputError) as caught:
        runner.run(app, "docker", cfg={"image_pull_policy": "never"})
    assert str(caught.value).startswith("image 'nosuch/image:0' is not on the docker daemon at ")
    assert "\n" not in str(caught.value)
    assert (
        docker_api.containers(all=True, filters={"label": ["torchrun_core.app_name=noimg"]}) == []
    )


def test_bad_bind_mount_names_the_path_and_leaves_nothing(
    runner: Runner, docker_api: Any, session: str
) -> None:
    role = Role(
        name="r",
        image="torchrun-core/busybox:latest",
        entrypoint="true",
        num_replicas=2,
        mounts=[{"type": "bind", "src_path": "/does/not/exist", "dst_path": "/data"}],
    )
    with pytest.raises(InvalidInputError, match="bind source path does not exist: /does/not/exist"):
        runner.run(AppDef(name="badmount", roles=[role]), "docker")
    label = {"label": [f"torchrun_core.session={session}"]}
    assert docker_api.containers(all=True, filters=label) == []
    assert docker_api.networks(filters=label) == []


def test_a_fresh_scheduler_lists_and_describes_from_labels_alone(
    runner: Runner, session: str
) -> None:
    from torchrun_core.schedulers.docker import DockerScheduler

    handle = runner.run(shell_app("sleep 300", replicas=2), "docker", cfg={"grace_period": 1})
    runner.wait(handle, timeout=60, state=AppState.RUNNING)
    other = DockerScheduler(session)  # no shared memory with the runner's scheduler
    try:
        listed = {app.app_id: app for app in other.list()}
        assert listed[handle.app_id].state is AppState.RUNNING
        assert listed[handle.app_id].name == "sh"
        status = other.describe(handle.app_id)
        assert status is not None and [r.id for r in status.roles[0].replicas] == [0, 1]
    finally:
        other.close()
    runner.cancel(handle)


def test_an_app_on_a_daemon_given_by_option_is_found_again(
    runner: Runner, docker_host: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/elsewhere.sock")  # the default: down
    handle = runner.run(shell_app("echo here"), "docker", cfg={"host": docker_host})
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    with Runner(handle.session) as later:  # a new runner, as another process would make
        assert later.status(handle).state is AppState.SUCCEEDED
        assert list(later.log_lines(handle)) == ["here\n"]
        later.cancel(handle)
