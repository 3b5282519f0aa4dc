"""Helpers of the kubernetes field tests: the CLI as a subprocess, pod watches, fault tools."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from torchrun_core.schedulers.kubernetes.manifests import LABEL_APP

K8S_SH = Path(__file__).resolve().parents[3] / "scripts" / "engines" / "k8s.sh"


def cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``torchrun-core ARGS`` in a new process, with this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "torchrun_core", *args], env={**os.environ},
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def cli_process(*args: str) -> subprocess.Popen[str]:
    """``torchrun-core ARGS`` started in a new process, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "torchrun_core", *args], env={**os.environ},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def messages(stderr: str) -> list[str]:
    """The CLI's error and hint lines (without its notes, such as the file tracker's)."""
    return [line for line in stderr.splitlines() if not line.startswith("note: ")]


def k8s_engine(*args: str) -> subprocess.CompletedProcess[str]:
    """``scripts/engines/k8s.sh ARGS`` (stop-apiserver, start-apiserver...) on the test cluster.

    The tests see none of the caller's ``TORCHRUN_CORE_K8S_*`` settings (tests/conftest.py),
    so the cluster's directory and port are told from its kubeconfig (``<dir>/kubeconfig``).
    """
    env = {**os.environ}
    kubeconfig = Path(os.environ.get("TORCHRUN_CORE_TEST_KUBECONFIG", ""))
    if kubeconfig.is_file():
        env["TORCHRUN_CORE_K8S_DIR"] = str(kubeconfig.parent)
        port = re.search(r"server: \"?https://127\.0\.0\.1:(\d+)", kubeconfig.read_text())
        if port:
            env["TORCHRUN_CORE_K8S_PORT"] = port.group(1)
    return subprocess.run(["bash", str(K8S_SH), *args], capture_output=True, text=True,
                          timeout=180, check=False, env=env)  # fmt: skip


def live_pods(core_api: Any, app_id: str) -> list[str]:
    pods = core_api.list_namespaced_pod("default", label_selector=f"{LABEL_APP}={app_id}").items
    return [p.metadata.name for p in pods if p.status.phase in ("Pending", "Running")]


def until(check: Callable[[], bool], core_api: Any, app_id: str, timeout_s: int = 90) -> None:
    """Return once ``check()`` holds, woken by the app's pod events; at most ``timeout_s``."""
    from kubernetes import watch

    if check():
        return
    for _ in watch.Watch().stream(
        core_api.list_namespaced_pod, "default", label_selector=f"{LABEL_APP}={app_id}",
        timeout_seconds=timeout_s,
    ):  # fmt: skip
        if check():
            return


def containers_running(pods: list[str], within_s: float) -> list[str]:
    """The ids of the pods' app containers still running after at most ``within_s`` seconds.

    Asked of the test dockerd the kubelet runs them on: the pod objects report a
    kill late (the kubelet updates a terminating pod's status when it goes).
    """
    import docker

    client = docker.DockerClient(base_url=os.environ["TORCHRUN_CORE_TEST_DOCKER_HOST"])
    deadline = time.monotonic() + within_s
    try:
        while True:
            running = [
                c.id
                for pod in pods
                for c in client.containers.list(filters={"label": [
                    f"io.kubernetes.pod.name={pod}", "io.kubernetes.docker.type=container"]})
            ]  # fmt: skip
            if not running or time.monotonic() > deadline:
                return running
            time.sleep(0.5)
    finally:
        client.close()


@pytest.fixture
def app_ids(core_api: Any) -> Iterator[list[str]]:
    """App ids the test made outside its session (the CLI's ``default``): removed after."""
    from kubernetes.client import BatchV1Api
    from kubernetes.client.exceptions import ApiException

    made: list[str] = []
    yield made
    for app_id in made:
        selector = f"{LABEL_APP}={app_id}"
        BatchV1Api(core_api.api_client).delete_collection_namespaced_job(
            "default", label_selector=selector, propagation_policy="Background",
            _preload_content=False,
        )  # fmt: skip
        core_api.delete_collection_namespaced_pod(
            "default", label_selector=selector, grace_period_seconds=0, _preload_content=False
        )
        with contextlib.suppress(ApiException):  # gone already
            core_api.delete_namespaced_service(app_id, "default", _preload_content=False)
