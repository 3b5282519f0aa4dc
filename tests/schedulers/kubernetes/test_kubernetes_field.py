"""Field hardening against the real 1.20 test cluster: a failed replica's siblings under
``run --wait``, a cancel's grace override, and Kueue's queue on a server without Job suspend.

Times are printed (``-s``) for the record, never asserted.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from kubernetes_field_tools import app_ids, cli, containers_running, live_pods, messages, until
from kubernetes_test_env import BUSYBOX, CFG

from torchrun_core.errors import InvalidOptionError
from torchrun_core.runner import Runner
from torchrun_core.schedulers.kubernetes.manifests import LABEL_APP
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.kubernetes
__all__ = ["app_ids"]  # a fixture

# Replica 1 fails at once; replica 0 would run for 5 minutes, so it ends only when stopped.
FAIL_ONE = (
    'echo "up $TORCHRUN_CORE_REPLICA_ID"; '
    'if [ "$TORCHRUN_CORE_REPLICA_ID" = 1 ]; then sleep 2; exit 3; fi; sleep 300'
)


def test_run_wait_ends_when_a_replica_fails_and_stops_its_sibling(
    session: str, core_api: Any, app_ids: list[str]
) -> None:
    # The default 30 s grace period: run --wait must not sit it out either.
    started = time.monotonic()
    proc = cli(
        "run", "--wait", "-s", "kubernetes", "--cfg", "image_pull_policy=Never",
        "utils.sh", "--image", BUSYBOX, "--num_replicas", "2", FAIL_ONE, timeout=100,
    )  # fmt: skip
    took = time.monotonic() - started
    handle = proc.stdout.splitlines()[-1] if proc.stdout else ""
    app_id = AppHandle.parse(handle).app_id if "://" in handle else ""
    if app_id:
        app_ids.append(app_id)
    print(f"\nrun --wait of a failed 2-replica app returned after {took:.1f} s")
    assert proc.returncode == 1, proc.stderr
    assert sorted(proc.stdout.splitlines()[:-1]) == ["sh/0 up 0", "sh/1 up 1"], proc.stdout
    assert messages(proc.stderr)[0] == (
        f"error: app {handle} FAILED: sh/1 exited with 3; sh/0 was stopped after sh/1 failed"
    ), proc.stderr
    # Stopped, not left to run its 5 minutes: its Job is being deleted, its pod goes.
    until(lambda: not live_pods(core_api, app_id), core_api, app_id)
    assert live_pods(core_api, app_id) == []
    with Runner("default") as cli_runner:
        assert cli_runner.status(handle).state == AppState.FAILED


def _term_deaf(replicas: int) -> AppDef:
    role = Role(name="sh", image=BUSYBOX, entrypoint="sh", num_replicas=replicas,
                args=["-c", "trap '' TERM; echo up; sleep 900"])  # fmt: skip
    return AppDef(name="deaf", roles=[role])


@pytest.mark.timeout(400)  # pods to start, 45 s for the kill, 90 s for the pods to go
def test_cancel_grace_override_is_honoured(runner: Runner, core_api: Any) -> None:
    # The pods' own grace period is 10 minutes and they ignore SIGTERM: their processes
    # can only end this soon if the kubelet kills them after the override's 3 s.
    handle = runner.run(_term_deaf(4), "kubernetes", {**CFG, "grace_period": 600})
    app_id = AppHandle.parse(str(handle)).app_id
    selector = f"{LABEL_APP}={app_id}"

    def started() -> list[str]:
        found = core_api.list_namespaced_pod("default", label_selector=selector).items
        up = [p.metadata.name for p in found
              if any(s.state.running for s in p.status.container_statuses or [])]  # fmt: skip
        return up if len(up) == 4 else []

    # Every process started: a 1.20 kubelet may start a container of a pod deleted
    # while it was starting it, and kill it only at its next resync (a minute on).
    until(lambda: bool(started()), core_api, app_id)
    pods = started()
    assert pods, "the 4 pods did not start"

    def gone() -> bool:
        return not core_api.list_namespaced_pod("default", label_selector=selector).items

    started = time.monotonic()
    runner.cancel(handle, grace_period=3)
    cancelled = time.monotonic() - started
    running = containers_running(pods, within_s=45)  # the engine's own view of the kill
    killed = time.monotonic() - started
    until(gone, core_api, app_id)
    took = time.monotonic() - started
    print(f"\ncancel --grace-period 3 of TERM-deaf pods: returned after {cancelled:.1f} s, "
          f"processes killed after {killed:.1f} s, pods gone after {took:.1f} s")  # fmt: skip
    assert running == [], "the kubelet kept the pods' own 600 s grace period"
    assert gone()
    assert runner.status(handle).state == AppState.CANCELLED


def test_queue_is_refused_on_a_server_without_job_suspend(runner: Runner, core_api: Any) -> None:
    from kubernetes.client import BatchV1Api

    queue = f"q-{uuid.uuid4().hex[:8]}"  # the Jobs would carry it as their queue label
    batch = BatchV1Api(core_api.api_client)

    def queued_jobs() -> list[Any]:
        selector = f"kueue.x-k8s.io/queue-name={queue}"
        return list(batch.list_namespaced_job("default", label_selector=selector).items)

    app = AppDef(name="queued", roles=[Role(name="sh", image=BUSYBOX, entrypoint="true")])
    with pytest.raises(InvalidOptionError) as err:
        runner.run(app, "kubernetes", {**CFG, "queue": queue})
    assert err.value.option == "queue" and "v1.20" in str(err.value), err.value
    assert "suspend" in str(err.value) and err.value.hint
    assert queued_jobs() == []
    assert runner.list() == []  # nothing recorded either

    proc = cli(
        "run", "-s", "kubernetes", "--cfg", "image_pull_policy=Never", "--cfg", f"queue={queue}",
        "utils.echo", "--image", BUSYBOX,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = messages(proc.stderr)
    assert lines[0].startswith("error: kubernetes option 'queue': the cluster (Kubernetes v1.20")
    assert lines[1].startswith("hint: run without --cfg queue=")
    assert len(lines) == 2 and "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert queued_jobs() == []
