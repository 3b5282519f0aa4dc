"""The test cluster's kube-apiserver goes away during ``wait``, ``run --wait`` and ``log -f``.

``scripts/engines/k8s.sh stop-apiserver`` / ``start-apiserver`` stop it for
about :data:`DOWN_S` seconds (plus its start-up); the app ends meanwhile, so
only a wait that rides out the outage and reads the state again learns how.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ci_rules import require_engine
from kubernetes_field_tools import app_ids, cli, cli_process, k8s_engine, messages
from kubernetes_test_env import BUSYBOX, CFG

from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.kubernetes
__all__ = ["app_ids"]  # a fixture

DOWN_S = 25
# Ends while the API server is away (it goes 2 s into the wait, for DOWN_S and its start-up).
SCRIPT = "echo before; sleep 20; echo after; exit 3"


@pytest.fixture
def apiserver_restored(kubeconfig: str) -> Iterator[None]:
    """The API server of scripts/engines/k8s.sh's cluster, up again after the test."""
    require_engine(
        "kubernetes", k8s_engine("status").returncode == 0,
        "the outage test stops and starts the apiserver of scripts/engines/k8s.sh's cluster, "
        "which is not running",
    )  # fmt: skip
    yield
    started = k8s_engine("start-apiserver")
    assert started.returncode == 0, started.stderr
    for _ in range(60):  # and the node Ready again (the kubelet reports in every 10 s)
        if k8s_engine("status").returncode == 0:
            return
        time.sleep(1)


class Outage(threading.Thread):
    """Stops the API server, runs ``status`` while it is away, and starts it again."""

    def __init__(self, handle: str) -> None:
        super().__init__(daemon=True)
        self.handle = handle
        self.results: dict[str, Any] = {}

    def run(self) -> None:
        time.sleep(2)  # the wait is watching by then
        self.results["stop"] = k8s_engine("stop-apiserver")
        down_at = time.monotonic()
        self.results["status"] = cli("status", self.handle, timeout=60)
        time.sleep(max(0.0, DOWN_S - (time.monotonic() - down_at)))
        self.results["start"] = k8s_engine("start-apiserver")
        self.results["back_at"] = time.monotonic()


@pytest.mark.timeout(600)  # an outage of DOWN_S, the API server's start-up, the app's run
def test_wait_and_run_wait_ride_out_an_apiserver_restart(
    runner: Runner, core_api: Any, app_ids: list[str], apiserver_restored: None
) -> None:
    role = Role(name="sh", image=BUSYBOX, entrypoint="sh", args=["-c", SCRIPT])
    following = cli_process(
        "run", "--wait", "-s", "kubernetes", "--cfg", "image_pull_policy=Never",
        "utils.sh", "--image", BUSYBOX, SCRIPT,
    )  # fmt: skip
    handle = str(runner.run(AppDef(name="blip", roles=[role]), "kubernetes", CFG))
    runner.wait(handle, timeout=90, state=AppState.RUNNING)
    reading = cli_process("log", "-f", handle)  # a followed log, across the outage
    assert following.stdout is not None
    first = following.stdout.readline()  # its app runs too
    if first != "before\n":
        following.kill()
        pytest.fail(f"run --wait printed {first!r}; stderr: {following.communicate()[1]}")
    sched: Any = runner.scheduler("kubernetes")
    outage = Outage(handle)
    with sched.watch(AppHandle.parse(handle).app_id) as watcher:
        outage.start()
        status = runner.wait(handle, timeout=300)
        returned_at = time.monotonic()
        outage.join(timeout=240)
        # The watch was broken off by the outage and made again, not given up for a poll.
        assert not watcher._broken
        assert watcher.reconnects >= 1
    log_out, log_err = reading.communicate(timeout=300)
    out, err = following.communicate(timeout=300)
    # run --wait printed the output from either side of the outage, then its handle.
    assert len(out.splitlines()) == 2 and out.startswith("after\n"), f"{out!r}; {err}"
    cli_handle = out.splitlines()[-1]
    app_ids.append(AppHandle.parse(cli_handle).app_id)
    back_at = outage.results["back_at"]
    print(f"\nwait returned {returned_at - back_at:.1f} s after the API server was back")

    assert outage.results["stop"].returncode == 0, outage.results["stop"].stderr
    assert outage.results["start"].returncode == 0, outage.results["start"].stderr
    during = outage.results["status"]  # status stays one-shot: one 'unavailable' error
    assert during.returncode == 1, during.stderr
    assert "the API server is unavailable" in messages(during.stderr)[0], during.stderr
    # The true final state, learned once the server was back.
    assert returned_at > back_at
    assert status.state == AppState.FAILED, status
    assert status.replica("sh", 0).exit_code == 3
    assert following.returncode == 1, err
    # log -f opened the stream again once the server was back: every line, once.
    assert (reading.returncode, log_out) == (0, "before\nafter\n"), log_err
    assert messages(err)[0] == f"error: app {cli_handle} FAILED: sh/0 exited with 3", err
