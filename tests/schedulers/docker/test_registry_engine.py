"""The test registries (``scripts/engines/registry.sh``) work with the test dockerd.

Through the docker SDK, as the scheduler will use them: push an image, pull
it back by the digest the push reported and run it; and on the registry with
authentication, a push needs credentials, given either as ``auth_config`` or
in a ``docker login``-style config file (``DOCKER_CONFIG``).

Each test uses its own random tags, and removes the local images it made.
"""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.auth
import docker.errors
import pytest
from docker_apps import BUSYBOX
from registry_env import TestRegistries, require_registries

pytestmark = pytest.mark.docker

REPO_PATH = "trc-test/busybox"  # the repository under each registry
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


@pytest.fixture
def registries(docker_host: str) -> TestRegistries:
    """The test registries (after the test dockerd: they are reached through it)."""
    return require_registries()


@pytest.fixture
def empty_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DOCKER_CONFIG with no credentials, so that nothing of the caller's login counts."""
    config_dir = tmp_path / "docker-config-empty"
    config_dir.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    return config_dir


@pytest.fixture
def client(docker_host: str, empty_docker_config: Path) -> Iterator[docker.DockerClient]:
    """A high-level SDK client of the test daemon, made with no stored credentials."""
    made = docker.DockerClient(base_url=docker_host, version="auto", timeout=60)
    yield made
    made.close()


@pytest.fixture
def local_refs(client: docker.DockerClient) -> Iterator[list[str]]:
    """References (tags, ``repo@digest``) this test made locally; removed afterwards."""
    refs: list[str] = []
    yield refs
    for ref in reversed(refs):
        with contextlib.suppress(docker.errors.ImageNotFound):
            client.images.remove(ref)


def new_tag() -> str:
    return f"t{uuid.uuid4().hex[:12]}"


def pushed_digest(events: Iterator[dict[str, Any]]) -> str:
    """The manifest digest a push stream reports last (``aux.Digest``); fails on an error."""
    seen = list(events)
    errors = [event["error"] for event in seen if "error" in event]
    assert not errors, f"push failed: {errors}"
    digests = [event["aux"]["Digest"] for event in seen if "Digest" in event.get("aux", {})]
    assert digests, f"no aux.Digest in the push stream: {seen}"
    assert digests[-1].startswith("sha256:")
    return str(digests[-1])


def push_errors(events: Iterator[dict[str, Any]]) -> list[str]:
    """The error messages of a push stream."""
    return [str(event["error"]) for event in events if "error" in event]


def unique_image(client: docker.DockerClient, repo: str, tag: str) -> tuple[Any, str]:
    """Busybox plus a layer of its own (``/marker`` holding a random token), as ``repo:tag``.

    Once such an image is removed locally, pulling it back has to ask the
    registry: the test dockerd answers a pull by digest of content it still
    has from its own store, without the registry (even with no credentials).
    """
    token = uuid.uuid4().hex
    container = client.containers.create(BUSYBOX, ["sh", "-c", f"echo {token} >/marker"])
    try:
        container.start()
        assert container.wait(timeout=30)["StatusCode"] == 0
        image = container.commit(repository=repo, tag=tag)
    finally:
        container.remove(force=True)
    return image, token


def pull_errors(api: Any, ref: str, **kwargs: Any) -> list[str]:
    """The errors of pulling ``ref`` with low-level client ``api`` (refused, or in the stream)."""
    try:
        return push_errors(api.pull(ref, stream=True, decode=True, **kwargs))
    except docker.errors.APIError as err:
        return [str(err)]


def manifest_digest(registry: str, digest: str, credentials: str | None = None) -> str:
    """The digest the registry itself gives the manifest ``digest`` (its own HTTP API)."""
    request = urllib.request.Request(
        f"http://{registry}/v2/{REPO_PATH}/manifests/{digest}",
        headers={"Accept": MANIFEST_TYPES},
    )
    if credentials is not None:
        token = base64.b64encode(credentials.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def test_push_then_pull_by_digest_and_run(
    client: docker.DockerClient, registries: TestRegistries, local_refs: list[str]
) -> None:
    repo, tag = f"{registries.plain}/{REPO_PATH}", new_tag()
    assert client.images.get(BUSYBOX).tag(repo, tag)
    local_refs.append(f"{repo}:{tag}")

    digest = pushed_digest(client.images.push(repo, tag=tag, stream=True, decode=True))
    assert manifest_digest(registries.plain, digest) == digest

    client.images.remove(f"{repo}:{tag}")
    ref = f"{repo}@{digest}"
    local_refs.append(ref)
    # Its layers are still here (busybox's): the next test makes the pull download one.
    pulled = client.images.pull(ref)
    assert ref in pulled.attrs["RepoDigests"]
    out = client.containers.run(ref, ["echo", f"hello from {tag}"], remove=True)
    assert out.decode().strip() == f"hello from {tag}"


def test_a_layer_only_the_registry_has_comes_back(
    client: docker.DockerClient, registries: TestRegistries, local_refs: list[str]
) -> None:
    # Once removed locally, the pull has to download its own layer from the registry.
    repo, tag = f"{registries.plain}/{REPO_PATH}", new_tag()
    image, token = unique_image(client, repo, tag)
    local_refs.append(f"{repo}:{tag}")

    digest = pushed_digest(client.images.push(repo, tag=tag, stream=True, decode=True))
    client.images.remove(f"{repo}:{tag}")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(image.id)  # gone, its layer with it

    ref = f"{repo}@{digest}"
    local_refs.append(ref)
    assert client.images.pull(ref).id == image.id
    out = client.containers.run(ref, ["cat", "/marker"], remove=True)
    assert out.decode().strip() == token


def test_auth_registry_refuses_a_push_without_credentials(
    client: docker.DockerClient, registries: TestRegistries, local_refs: list[str]
) -> None:
    repo, tag = f"{registries.auth}/{REPO_PATH}", new_tag()
    assert client.images.get(BUSYBOX).tag(repo, tag)
    local_refs.append(f"{repo}:{tag}")

    errors = push_errors(client.images.push(repo, tag=tag, stream=True, decode=True))
    assert errors, "a push with no credentials was accepted"
    assert any("basic auth credentials" in e or "authentication required" in e for e in errors)

    wrong = {"username": registries.user, "password": "not-the-password"}
    errors = push_errors(
        client.images.push(repo, tag=tag, stream=True, decode=True, auth_config=wrong)
    )
    assert errors, "a push with a wrong password was accepted"


def test_auth_registry_takes_auth_config(
    client: docker.DockerClient, registries: TestRegistries, local_refs: list[str]
) -> None:
    repo, tag = f"{registries.auth}/{REPO_PATH}", new_tag()
    image, token = unique_image(client, repo, tag)
    local_refs.append(f"{repo}:{tag}")

    events = client.images.push(
        repo, tag=tag, stream=True, decode=True, auth_config=registries.auth_config()
    )
    digest = pushed_digest(events)
    credentials = f"{registries.user}:{registries.password}"
    assert manifest_digest(registries.auth, digest, credentials) == digest

    client.images.remove(f"{repo}:{tag}")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(image.id)
    ref = f"{repo}@{digest}"
    local_refs.append(ref)
    errors = pull_errors(client.api, ref)  # pulling needs the credentials as well
    assert errors, "a pull with no credentials was accepted"
    assert pull_errors(client.api, ref, auth_config=registries.auth_config()) == []
    assert client.images.get(ref).id == image.id
    out = client.containers.run(ref, ["cat", "/marker"], remove=True)
    assert out.decode().strip() == token


def test_auth_registry_takes_a_docker_login_config_file(
    docker_host: str,
    client: docker.DockerClient,
    registries: TestRegistries,
    local_refs: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What `docker login` writes: config.json with an `auths` entry per registry.
    config_dir = tmp_path / "docker-config-login"
    config_dir.mkdir()
    secret = base64.b64encode(f"{registries.user}:{registries.password}".encode()).decode()
    (config_dir / "config.json").write_text(
        json.dumps({"auths": {registries.auth: {"auth": secret}}})
    )
    (config_dir / "config.json").chmod(0o600)
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    found = docker.auth.resolve_authconfig(docker.auth.load_config(), registries.auth)
    assert found is not None and found["username"] == registries.user

    repo, tag = f"{registries.auth}/{REPO_PATH}", new_tag()
    image, _ = unique_image(client, repo, tag)
    local_refs.append(f"{repo}:{tag}")
    # A client made now reads DOCKER_CONFIG; no auth_config is passed anywhere below.
    api = docker.APIClient(base_url=docker_host, version="auto", timeout=60)
    try:
        digest = pushed_digest(api.push(repo, tag=tag, stream=True, decode=True))
        api.remove_image(f"{repo}:{tag}")
        with pytest.raises(docker.errors.ImageNotFound):
            api.inspect_image(image.id)
        ref = f"{repo}@{digest}"
        local_refs.append(ref)
        assert pull_errors(api, ref) == []  # its layer came from the registry
        assert api.inspect_image(ref)["Id"] == image.id
    finally:
        api.close()
