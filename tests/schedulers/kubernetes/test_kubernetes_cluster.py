"""The kubernetes scheduler against the real loopback test cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from kubernetes_test_env import BUSYBOX, CFG

from torchrun_core.errors import InvalidInputError
from torchrun_core.runner import Runner
from torchrun_core.schedulers.kubernetes.manifests import LABEL_APP
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.kubernetes


def _pods_after_deletion(core_api: Any, handle: AppHandle) -> list[Any]:
    """The app's pods once none is left, or after 60 s (deletion is foreground: watched)."""
    from kubernetes import watch

    selector = f"{LABEL_APP}={AppHandle.parse(str(handle)).app_id}"
    if not core_api.list_namespaced_pod("default", label_selector=selector).items:
        return []  # already gone: a watch would see no event and sit out its timeout
    for _ in watch.Watch().stream(
        core_api.list_namespaced_pod, "default", label_selector=selector, timeout_seconds=60
    ):
        if not core_api.list_namespaced_pod("default", label_selector=selector).items:
            break
    return list(core_api.list_namespaced_pod("default", label_selector=selector).items)


def _sh(script: str, replicas: int = 1, name: str = "sh") -> AppDef:
    role = Role(name="sh", image=BUSYBOX, entrypoint="sh", args=["-c", script],
                num_replicas=replicas)  # fmt: skip
    return AppDef(name=name, roles=[role])


def test_echo_succeeds_with_its_output(runner: Runner) -> None:
    handle = runner.run(_sh("echo hello from k8s"), "kubernetes", CFG)
    status = runner.wait(handle, timeout=90)
    assert status.state == AppState.SUCCEEDED, status
    assert list(runner.log_lines(handle)) == ["hello from k8s\n"]


def test_nonzero_exit_fails_with_the_exit_code(runner: Runner) -> None:
    handle = runner.run(_sh("exit 3"), "kubernetes", CFG)
    status = runner.wait(handle, timeout=90)
    assert status.state == AppState.FAILED
    assert status.replica("sh", 0).exit_code == 3
    assert "exited with 3" in status.message


def test_every_replica_gets_its_id_and_rank0_name(runner: Runner) -> None:
    script = 'echo "$TORCHRUN_CORE_REPLICA_ID $(hostname) $TORCHRUN_CORE_RANK0_HOST"'
    handle = runner.run(_sh(script, replicas=3), "kubernetes", CFG)
    assert runner.wait(handle, timeout=90).state == AppState.SUCCEEDED
    app_id = AppHandle.parse(str(handle)).app_id
    for k in range(3):
        (line,) = runner.log_lines(handle, k=k)
        # hostname set by the pod spec; rank 0's DNS name checked without resolving it
        assert line == f"{k} sh-{k} sh-0.{app_id}.default.svc\n"


def test_log_follow_streams_until_the_pod_ends(runner: Runner) -> None:
    handle = runner.run(_sh("for i in 1 2 3; do echo line $i; sleep 0.5; done"), "kubernetes", CFG)
    lines = list(runner.log_lines(handle, should_tail=True))
    assert lines == ["line 1\n", "line 2\n", "line 3\n"]
    assert list(runner.log_lines(handle, regex="2$")) == ["line 2\n"]


def test_cancel_leaves_no_pods_and_is_idempotent(runner: Runner, core_api: Any) -> None:
    cfg = {**CFG, "grace_period": 1}  # sh as PID 1 ignores TERM: do not wait 30 s
    handle = runner.run(_sh("sleep 300", replicas=2), "kubernetes", cfg)
    runner.wait(handle, timeout=90, state=AppState.RUNNING)
    runner.cancel(handle)
    runner.cancel(handle)
    assert _pods_after_deletion(core_api, handle) == []
    assert runner.status(handle).state.is_terminal


def test_status_and_list_from_a_second_process(runner: Runner, session: str) -> None:
    handle = runner.run(_sh("sleep 300"), "kubernetes", CFG)
    runner.wait(handle, timeout=90, state=AppState.RUNNING)
    env = {**os.environ}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "torchrun_core", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip

    status = cli("status", "--json", str(handle))
    assert status.returncode == 0, status.stderr
    assert '"state": "RUNNING"' in status.stdout
    listed = cli("list", "-s", "kubernetes")
    assert listed.returncode == 0, listed.stderr
    assert str(handle) in listed.stdout
    runner.cancel(handle)


def test_a_422_is_one_line_naming_the_field(runner: Runner) -> None:
    cfg = {**CFG, "pod_overlay": {"restartPolicy": "Always"}}  # Jobs refuse Always
    with pytest.raises(InvalidInputError) as err:
        runner.run(_sh("true"), "kubernetes", cfg)
    assert "restartPolicy" in str(err.value) and "\n" not in str(err.value)


def test_wait_is_woken_by_the_watch(runner: Runner) -> None:
    handle = runner.run(_sh("sleep 1"), "kubernetes", CFG)
    app_id = AppHandle.parse(str(handle)).app_id
    sched: Any = runner.scheduler("kubernetes")
    wakes = 0
    with sched.watch(app_id) as watcher:
        # Each wait would sit for 100 s without an event: the test's timeout would fail it.
        while not sched.describe(app_id).state.is_terminal:
            watcher.wait(100)
            wakes += 1
        assert not watcher._broken
    assert sched.describe(app_id).state == AppState.SUCCEEDED
    assert wakes >= 1


def test_a_failed_replica_stops_its_siblings(runner: Runner, core_api: Any) -> None:
    cfg = {**CFG, "grace_period": 1}  # sh as PID 1 ignores TERM: do not wait 30 s
    script = 'if [ "$TORCHRUN_CORE_REPLICA_ID" = 1 ]; then exit 1; fi; sleep 300'
    handle = runner.run(_sh(script, replicas=2), "kubernetes", cfg)
    status = runner.wait(handle, timeout=90)
    assert status.state == AppState.FAILED, status
    assert status.replica("sh", 1).exit_code == 1
    assert "stopped sh[0]" in status.message, status  # the read that saw FAILED stopped it
    app_id = AppHandle.parse(str(handle)).app_id
    selector = f"{LABEL_APP}={app_id}"
    from kubernetes import watch

    def live() -> list[str]:
        pods = core_api.list_namespaced_pod("default", label_selector=selector).items
        return [p.metadata.name for p in pods if p.status.phase in ("Pending", "Running")]

    # Bounded: the watch ends after 60 s whatever happens; no pod event, no wait.
    if live():
        for _ in watch.Watch().stream(
            core_api.list_namespaced_pod, "default", label_selector=selector, timeout_seconds=60
        ):
            if not live():
                break
    assert live() == []
    after = runner.status(handle)
    assert after.state == AppState.FAILED, after
    assert after.replica("sh", 1).exit_code == 1


def _pod_ips(core_api: Any, app_id: str) -> list[str]:
    pods = core_api.list_namespaced_pod("default", label_selector=f"{LABEL_APP}={app_id}").items
    return [p.status.pod_ip for p in pods if p.status.pod_ip]


def test_pods_reach_each_other_over_tcp_by_pod_ip(runner: Runner, core_api: Any) -> None:
    # No cluster DNS here: the client is given the server pod's IP.
    server = runner.run(_sh("echo pong | nc -l -p 7000", name="server"), "kubernetes", CFG)
    runner.wait(server, timeout=90, state=AppState.RUNNING)
    (server_ip,) = _pod_ips(core_api, AppHandle.parse(str(server)).app_id)
    script = f"for i in 1 2 3 4 5 6 7 8 9 10; do nc {server_ip} 7000 && exit 0; sleep 0.5; done"
    client = runner.run(_sh(script, name="client"), "kubernetes", CFG)
    assert runner.wait(client, timeout=90).state == AppState.SUCCEEDED
    assert list(runner.log_lines(client)) == ["pong\n"]
    assert runner.wait(server, timeout=90).state == AppState.SUCCEEDED


def test_a_long_running_pod_keeps_running_until_cancelled(runner: Runner, core_api: Any) -> None:
    # The kubelet kills a pod whose sandbox has no IP within seconds: this one must
    # still run, and its log must keep growing, well after it started.
    script = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done"
    handle = runner.run(_sh(script), "kubernetes", {**CFG, "grace_period": 0})
    runner.wait(handle, timeout=90, state=AppState.RUNNING)
    lines = runner.log_lines(handle, should_tail=True)
    seen = [next(lines) for _ in range(8)]
    assert seen == [f"tick {i}\n" for i in range(1, 9)]
    assert runner.status(handle).state == AppState.RUNNING
    runner.cancel(handle, grace_period=0)
    assert runner.wait(handle, timeout=90).state.is_terminal


def test_cancel_grace_period_overrides_the_pods_own(runner: Runner, core_api: Any) -> None:
    # A TERM-deaf pod with a 600 s grace period: only the override can remove it in time.
    handle = runner.run(_sh("trap '' TERM; sleep 900"), "kubernetes", {**CFG, "grace_period": 600})
    runner.wait(handle, timeout=90, state=AppState.RUNNING)
    runner.cancel(handle, grace_period=0)
    assert _pods_after_deletion(core_api, handle) == []


def test_delete_removes_the_objects_and_the_record(runner: Runner, core_api: Any) -> None:
    from kubernetes.client import BatchV1Api

    handle = runner.run(_sh("echo bye"), "kubernetes", CFG)
    assert runner.wait(handle, timeout=90).state == AppState.SUCCEEDED
    app_id = AppHandle.parse(str(handle)).app_id
    selector = f"{LABEL_APP}={app_id}"
    batch = BatchV1Api(core_api.api_client)
    assert batch.list_namespaced_job("default", label_selector=selector).items
    runner.delete(handle)
    assert _pods_after_deletion(core_api, handle) == []
    assert batch.list_namespaced_job("default", label_selector=selector).items == []
    assert [s.metadata.name for s in core_api.list_namespaced_service("default").items].count(
        app_id
    ) == 0
    assert runner.store.get(str(handle)) is None
