"""Fixtures for the kubernetes scheduler's integration tests (marked ``kubernetes``).

``scripts/test.sh`` starts a loopback v1.20.2 cluster whose kubelet runs pods
on the private test dockerd (``scripts/engines/k8s.sh``) and exports its
kubeconfig as ``TORCHRUN_CORE_TEST_KUBECONFIG``. Without it these tests skip,
saying why; under ``CI=true`` they fail (``ci_rules.require_engine``).

Each test runs its apps in its own session; whatever carries that session's
label is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from ci_rules import require_engine

from torchrun_core.runner import Runner

KUBECONFIG_ENV = "TORCHRUN_CORE_TEST_KUBECONFIG"
SESSION_LABEL = "torchrun-core/session"


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    """The test cluster's kubeconfig; skips (fails under CI) when it is missing or down."""
    path = os.environ.get(KUBECONFIG_ENV, "")
    require_engine("kubernetes", bool(path), f"{KUBECONFIG_ENV} is not set (scripts/test.sh)")
    require_engine("kubernetes", os.path.exists(path), f"no kubeconfig at {path}")
    try:
        from kubernetes import config
        from kubernetes.client import CoreV1Api

        with config.new_client_from_config(config_file=path) as api:
            nodes = CoreV1Api(api).list_node(_request_timeout=10).items
    except Exception as err:
        require_engine("kubernetes", False, f"the cluster of {path} does not answer: {err}")
        raise
    require_engine("kubernetes", bool(nodes), "the cluster has no node (is the kubelet up?)")
    return path


@pytest.fixture(scope="session")
def core_api(kubeconfig: str) -> Iterator[Any]:
    """A CoreV1Api of the test cluster, for the tests' own checks."""
    from kubernetes import config
    from kubernetes.client import CoreV1Api

    api = config.new_client_from_config(config_file=kubeconfig)
    yield CoreV1Api(api)
    api.close()


@pytest.fixture
def session(kubeconfig: str, core_api: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A session of this test alone, with KUBECONFIG pointing at the test cluster."""
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    remove_session(core_api, name)


def remove_session(core: Any, session: str) -> None:
    """Delete the session's Jobs (with their pods) and Services."""
    from kubernetes.client import BatchV1Api

    selector = f"{SESSION_LABEL}={session}"
    BatchV1Api(core.api_client).delete_collection_namespaced_job(
        "default", label_selector=selector, propagation_policy="Background",
        _preload_content=False,
    )  # fmt: skip
    for service in core.list_namespaced_service("default", label_selector=selector).items:
        # raw answers: 1.20 returns a Status the newer SDK cannot read as a Service
        core.delete_namespaced_service(service.metadata.name, "default", _preload_content=False)
    core.delete_collection_namespaced_pod(
        "default", label_selector=selector, _preload_content=False
    )


@pytest.fixture
def runner(session: str) -> Iterator[Runner]:
    """A Runner of this test's session (its store is in the test's state dir)."""
    with Runner(session) as made:
        yield made
