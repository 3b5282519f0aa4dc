"""Fixtures for the docker scheduler's integration tests (marked ``docker``).

``scripts/test.sh`` starts a private dockerd, builds the base images with no
registry (``scripts/engines/``) and exports the daemon's address as
``TORCHRUN_CORE_TEST_DOCKER_HOST``. Without it these tests skip, saying why;
under ``CI=true`` they fail (``ci_rules.require_engine``).

Each test runs its apps in its own session, and everything labelled with
that session is removed afterwards, whatever the test did.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from ci_rules import require_engine

from torchrun_core.runner import Runner

HOST_ENV = "TORCHRUN_CORE_TEST_DOCKER_HOST"
BUSYBOX = "torchrun-core/busybox:latest"
PYTHON = "torchrun-core/python:3.11"
SESSION_LABEL = "torchrun_core.session"


@pytest.fixture(scope="session")
def docker_host() -> str:
    """The test daemon's address; skips (fails under CI) when it is missing or down."""
    host = os.environ.get(HOST_ENV, "")
    require_engine("docker", bool(host), f"{HOST_ENV} is not set (scripts/test.sh sets it)")
    # Without the SDK, `import docker` would find this directory as a namespace package.
    docker = pytest.importorskip("docker.api", reason="the docker SDK is not installed")
    try:
        client = docker.APIClient(base_url=host, version="auto", timeout=10)
        names = {tag for image in client.images() for tag in image.get("RepoTags") or []}
        client.close()
    except Exception as err:
        require_engine("docker", False, f"no dockerd answers at {host}: {err}")
        raise
    missing = {BUSYBOX, PYTHON} - names
    require_engine(
        "docker",
        not missing,
        f"images {sorted(missing)} missing: run scripts/engines/docker-images.sh",
    )
    return host


@pytest.fixture(scope="session")
def docker_api(docker_host: str) -> Iterator[Any]:
    """A low-level SDK client of the test daemon, for the tests' own checks."""
    from docker.api import APIClient

    client = APIClient(base_url=docker_host, version="auto", timeout=30)
    yield client
    client.close()


@pytest.fixture
def session(docker_host: str, docker_api: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A session name of this test alone, with DOCKER_HOST pointing at the test daemon.

    Whatever carries the session's label afterwards is removed.
    """
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    remove_session(docker_api, name)


def remove_session(api: Any, session: str) -> None:
    """Remove every container and network labelled with ``session``."""
    label = {"label": [f"{SESSION_LABEL}={session}"]}
    for container in api.containers(all=True, filters=label):
        api.remove_container(container["Id"], force=True, v=True)
    for network in api.networks(filters=label):
        api.remove_network(network["Id"])


@pytest.fixture
def default_session(
    docker_host: str, docker_api: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Session ``default`` (the CLI's), with DOCKER_HOST pointing at the test daemon.

    The containers and networks this test adds to the session are removed afterwards.
    """
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    label = {"label": [f"{SESSION_LABEL}=default"]}
    before = {c["Id"] for c in docker_api.containers(all=True, filters=label)}
    networks = {n["Id"] for n in docker_api.networks(filters=label)}
    yield "default"
    for container in docker_api.containers(all=True, filters=label):
        if container["Id"] not in before:
            docker_api.remove_container(container["Id"], force=True, v=True)
    for network in docker_api.networks(filters=label):
        if network["Id"] not in networks:
            docker_api.remove_network(network["Id"])


@pytest.fixture
def runner(session: str) -> Iterator[Runner]:
    """A Runner of this test's session (its store is in the test's state dir)."""
    with Runner(session) as made:
        yield made
