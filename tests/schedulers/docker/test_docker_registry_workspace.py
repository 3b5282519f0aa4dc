"""``run --workspace DIR`` with ``--cfg image_repo=...`` against the test registries.

The workspace image is pushed to a real registry (``scripts/engines/registry.sh``)
and the roles run it by digest; an unchanged DIR builds and pushes nothing,
a changed file pushes one layer; the dry run builds and pushes nothing; bad
input is one line with a hint and submits nothing; credentials come from the
docker config and are never shown or stored.

Each test pushes to a repository of its own (``trc-ws/<random>``) and removes
the local images it made.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest
from docker_apps import APP_LABEL, BUSYBOX, PYTHON, shell_app
from registry_env import TestRegistries, require_registries

from torchrun_core.runner import Runner
from torchrun_core.schedulers.shared.image_progress import ImageProgress
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker

MAIN = 'print("main says", open("data.txt").read().strip())\n'
BIG = 3 << 20  # bytes of a file in the base image: a push of it would be seen


@pytest.fixture
def registries(docker_host: str) -> TestRegistries:
    """The test registries (after the test dockerd: they are reached through it)."""
    return require_registries()


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty DOCKER_CONFIG: nothing of the caller's logins counts."""
    config = tmp_path / "docker-config"
    config.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    return config


@pytest.fixture
def repo_name(docker_api: Any) -> Iterator[str]:
    """A repository path of this test alone; its local images are removed afterwards."""
    name = f"trc-ws/{uuid.uuid4().hex[:12]}"
    yield name
    delete_local(docker_api, name)
    delete_local(docker_api, f"{name}-base")


@pytest.fixture
def plain_repo(registries: TestRegistries, repo_name: str, docker_config: Path) -> str:
    return f"{registries.plain}/{repo_name}"


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python -m torchrun_core *args`` in a process of its own, with this test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "torchrun_core", *args],
        capture_output=True, text=True, timeout=timeout, env=dict(os.environ),
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def delete_local(api: Any, name: str) -> None:
    """Remove every local tag and digest reference of repository ``name`` (and so its images)."""
    for image in api.images(all=True):
        refs = (image.get("RepoTags") or []) + (image.get("RepoDigests") or [])
        for ref in refs:
            if ref.split("/", 1)[-1].rsplit("@", 1)[0].rsplit(":", 1)[0] == name:
                with contextlib.suppress(Exception):
                    api.remove_image(ref, force=True)


def image_ids(api: Any) -> set[str]:
    return {image["Id"] for image in api.images(all=True)}


def registry_tags(registry: str, name: str, credentials: str | None = None) -> list[str]:
    """The registry's tags of ``name`` (its HTTP API); [] when it has no such repository."""
    request = urllib.request.Request(f"http://{registry}/v2/{name}/tags/list")
    if credentials is not None:
        token = base64.b64encode(credentials.encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return sorted(json.load(response).get("tags") or [])
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return []
        raise


class PushSpy:
    """Wraps the scheduler's ``client.push``: counts pushes, keeps their events."""

    def __init__(self, runner: Runner) -> None:
        self.client, _ = runner.scheduler("docker").client()  # type: ignore[attr-defined]
        self.real = self.client.push
        self.pushes: list[list[dict[str, Any]]] = []
        self.client.push = self._push

    def _push(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        events: list[dict[str, Any]] = []
        self.pushes.append(events)
        for event in self.real(*args, **kwargs):
            if isinstance(event, dict):
                events.append(event)
            yield event

    def progress(self, index: int = -1) -> ImageProgress:
        """What push ``index`` sent, as the progress display counts it."""
        progress = ImageProgress("test", show=False)
        for event in self.pushes[index]:
            progress.push_event(event)
        return progress


def workspace(root: Path, data: str = "v1") -> Path:
    ws = root / "ws"
    ws.mkdir(exist_ok=True)
    (ws / "main.py").write_text(MAIN)
    (ws / "data.txt").write_text(f"{data}\n")
    return ws


def run_workspace(
    runner: Runner, ws: Path, cfg: dict[str, Any], script: str = "python main.py"
) -> tuple[str, list[str], Any]:
    """Run ``script`` in ``ws`` on the python image; returns its image, output lines, handle."""
    handle = runner.run(shell_app(script, image=PYTHON), "docker", cfg, workspace=str(ws))
    status = runner.wait(handle, timeout=120)
    lines = list(runner.log_lines(handle))
    assert status.state is AppState.SUCCEEDED, lines
    record = runner.describe(handle)
    assert record.app is not None
    roles = record.app.roles
    return roles[0].image, lines, handle


def container_images(api: Any, handle: Any) -> list[str]:
    """The ``Config.Image`` of each container of the app ``handle``."""
    label = {"label": [f"{APP_LABEL}={handle.app_id}"]}
    containers = api.containers(all=True, filters=label)
    assert containers
    return [api.inspect_container(c["Id"])["Config"]["Image"] for c in containers]


def test_run_pushes_and_runs_by_digest(
    runner: Runner, tmp_path: Path, plain_repo: str, repo_name: str, docker_api: Any
) -> None:
    ws = workspace(tmp_path)
    spy = PushSpy(runner)
    image, lines, handle = run_workspace(runner, ws, {"image_repo": plain_repo})
    assert image.startswith(f"{plain_repo}@sha256:")
    assert container_images(docker_api, handle) == [image]
    assert lines == ["main says v1\n"]
    assert len(spy.pushes) == 1
    tags = registry_tags(plain_repo.split("/", 1)[0], repo_name)
    assert len(tags) == 1 and tags[0].startswith("ws-")


def test_pull_policy_always_pulls_the_workspace_image_from_the_registry(
    runner: Runner, tmp_path: Path, plain_repo: str, repo_name: str, docker_api: Any
) -> None:
    # "always" pulls the base image too: it has to come from a registry as well.
    base = f"{plain_repo}-base:1"
    docker_api.tag(BUSYBOX, f"{plain_repo}-base", "1")
    for event in docker_api.push(f"{plain_repo}-base", tag="1", stream=True, decode=True):
        assert "error" not in event, event
    ws = workspace(tmp_path)
    cfg = {"image_repo": plain_repo, "image_pull_policy": "always"}
    app = shell_app("cat data.txt", image=base)
    first = runner.run(app, "docker", cfg, workspace=str(ws))
    assert runner.wait(first, timeout=120).state is AppState.SUCCEEDED
    record = runner.describe(first)
    assert record.app is not None
    image = record.app.roles[0].image
    assert image.startswith(f"{plain_repo}@sha256:")

    # Gone from the daemon (tags, digests, the image): the run pulls it from the registry.
    image_id = docker_api.inspect_image(image)["Id"]
    for container in docker_api.containers(all=True, filters={"ancestor": image_id}):
        docker_api.remove_container(container["Id"], force=True)
    delete_local(docker_api, repo_name)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_api.inspect_image(image_id)
    spy = PushSpy(runner)
    handle = runner.run(app, "docker", cfg, workspace=str(ws))
    assert runner.wait(handle, timeout=120).state is AppState.SUCCEEDED
    assert list(runner.log_lines(handle)) == ["v1\n"]
    assert container_images(docker_api, handle) == [image]
    assert spy.pushes == []  # the registry had it: neither built nor pushed
    assert docker_api.inspect_image(image)["Id"] == image_id


def test_unchanged_dir_builds_and_pushes_nothing_and_a_change_pushes_one_layer(
    runner: Runner, tmp_path: Path, plain_repo: str, repo_name: str, docker_api: Any
) -> None:
    ws = workspace(tmp_path)
    spy = PushSpy(runner)
    first, _, _ = run_workspace(runner, ws, {"image_repo": plain_repo})
    assert len(spy.pushes) == 1
    ids = image_ids(docker_api)
    tags = registry_tags(plain_repo.split("/", 1)[0], repo_name)

    second, lines, _ = run_workspace(runner, ws, {"image_repo": plain_repo})
    assert second == first
    assert lines == ["main says v1\n"]
    assert len(spy.pushes) == 1  # no push at all
    assert image_ids(docker_api) == ids  # no build
    assert registry_tags(plain_repo.split("/", 1)[0], repo_name) == tags

    (ws / "data.txt").write_text("v2 " + "x" * 2000 + "\n")
    third, lines, _ = run_workspace(runner, ws, {"image_repo": plain_repo})
    assert third != first and third.startswith(f"{plain_repo}@sha256:")
    assert lines[-1].startswith("main says v2 ")
    assert len(spy.pushes) == 2
    pushed = spy.progress()
    assert len(pushed.pushed_layers) == 1, spy.pushes[-1]
    assert pushed.existing_layers  # the base image's layers: already there
    # The layer is the workspace (a few KiB), not the python image (tens of MiB).
    assert 2000 < pushed.pushed_bytes < 64 << 10, pushed.pushed_bytes

    # On a terminal, each pushed layer's bar ends full (the "Pushed" event has no sizes).
    with ImageProgress("push", show=True) as shown:
        for event in spy.pushes[-1]:
            shown.push_event(event)
        bars = shown._progress.tasks
    assert len(bars) == 1 and bars[0].completed == bars[0].total == pushed.pushed_bytes


def test_dryrun_builds_and_pushes_nothing(
    runner: Runner, tmp_path: Path, plain_repo: str, repo_name: str, docker_api: Any
) -> None:
    ws = workspace(tmp_path)
    ids = image_ids(docker_api)
    spy = PushSpy(runner)
    info = runner.dryrun(
        shell_app("python main.py", image=PYTHON), "docker", {"image_repo": plain_repo},
        workspace=str(ws),
    )  # fmt: skip
    tag = info.app.roles[0].image
    assert tag.startswith(f"{plain_repo}:ws-")
    assert image_ids(docker_api) == ids
    assert spy.pushes == []
    assert registry_tags(plain_repo.split("/", 1)[0], repo_name) == []
    notes = [n for n in info.notes if tag in n]
    assert notes and "pushed to " + plain_repo in notes[0], info.notes


def test_cli_dryrun_prints_the_plan(
    default_session: str, tmp_path: Path, plain_repo: str, repo_name: str, docker_api: Any
) -> None:
    ws = workspace(tmp_path)
    ids = image_ids(docker_api)
    proc = run_cli(
        "run", "--dryrun", "-s", "docker", "--cfg", f"image_repo={plain_repo}",
        "--workspace", str(ws), "utils.sh", "--image", PYTHON, "python main.py",
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"{plain_repo}:ws-" in proc.stdout + proc.stderr
    assert "pushed to " + plain_repo in proc.stdout + proc.stderr
    assert image_ids(docker_api) == ids
    assert registry_tags(plain_repo.split("/", 1)[0], repo_name) == []


def test_dockerfile_and_ignore_files(
    runner: Runner, tmp_path: Path, plain_repo: str, docker_api: Any
) -> None:
    ws = workspace(tmp_path)
    (ws / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM $BASE_IMAGE\nRUN echo built > /marker\nCOPY . /app/\nWORKDIR /app\n"
    )
    (ws / "secret.txt").write_text("kept out by .torchrunignore\n")
    (ws / "junk.log").write_text("kept out by .dockerignore\n")
    (ws / ".torchrunignore").write_text("secret.txt\n")
    (ws / ".dockerignore").write_text("*.log\n")
    script = "cat /marker; ls -A /app | sort; python main.py"
    image, lines, _ = run_workspace(runner, ws, {"image_repo": plain_repo}, script)
    assert image.startswith(f"{plain_repo}@sha256:")
    assert lines == [
        "built\n", ".dockerignore\n", ".torchrunignore\n", "Dockerfile\n", "data.txt\n",
        "main.py\n", "main says v1\n",
    ]  # fmt: skip


def test_dockerfile_listed_in_dockerignore_is_still_used(
    runner: Runner, tmp_path: Path, plain_repo: str
) -> None:
    # As with docker build: the Dockerfile and .dockerignore are sent even when
    # .dockerignore lists them, and COPY leaves them out.
    ws = workspace(tmp_path)
    (ws / "Dockerfile").write_text("ARG BASE_IMAGE\nFROM $BASE_IMAGE\nCOPY . /app/\n")
    (ws / ".dockerignore").write_text("Dockerfile\n.dockerignore\n")
    _, lines, _ = run_workspace(runner, ws, {"image_repo": plain_repo}, "ls -A /app | sort")
    assert lines == ["data.txt\n", "main.py\n"]


# --- bad input: one line with a hint, no traceback, nothing submitted ---------------------
