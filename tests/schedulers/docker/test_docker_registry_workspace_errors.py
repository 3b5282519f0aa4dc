"""Workspace images on a registry, bad input and credentials (see test_docker_registry_workspace).

Each bad input is one line with a hint, the documented exit code and no
traceback, and submits nothing; credentials come from the docker config and
are never shown or stored.
"""

# ruff: noqa: F811  (pytest fixtures imported from the main module are parameters here)
from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_apps import BUSYBOX, PYTHON, shell_app
from registry_env import TestRegistries
from test_docker_registry_workspace import (  # noqa: F401  (fixtures)
    MAIN,
    docker_config,
    error_lines,
    plain_repo,
    registries,
    registry_tags,
    repo_name,
    run_cli,
    workspace,
)

from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker


def bad_run(ws: Path, repo: str, *extra: str) -> tuple[int, list[str], str]:
    """``run --workspace`` through the CLI: its exit code, error lines and whole output."""
    proc = run_cli(
        "run", "-s", "docker", "--cfg", f"image_repo={repo}", "--workspace", str(ws), *extra,
        "utils.sh", "--image", BUSYBOX, "cat /marker",
        timeout=180,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return proc.returncode, error_lines(proc.stderr), out


def default_containers(api: Any) -> list[str]:
    return [
        c["Names"][0]
        for c in api.containers(all=True, filters={"label": ["torchrun_core.session=default"]})
    ]


@pytest.fixture
def containers_before(default_session: str, docker_api: Any) -> Iterator[set[str]]:
    before = set(default_containers(docker_api))
    yield before
    assert set(default_containers(docker_api)) == before, "a container was created"


def test_unreachable_registry_is_one_line(
    tmp_path: Path, containers_before: set[str], docker_config: Path, registries: TestRegistries
) -> None:
    code, errors, out = bad_run(workspace(tmp_path), "127.0.0.1:1/x")
    assert code == 1, out
    assert len(errors) == 1 and "127.0.0.1:1" in errors[0], out
    assert "hint:" in out


def test_refused_credentials_is_bad_input(
    tmp_path: Path, containers_before: set[str], docker_config: Path, registries: TestRegistries,
    repo_name: str,
) -> None:  # fmt: skip
    code, errors, out = bad_run(workspace(tmp_path), f"{registries.auth}/{repo_name}")
    assert code == 2, out
    assert len(errors) == 1 and "refused the credentials" in errors[0], out
    assert "docker login" in out


def test_missing_dir_is_bad_input(
    tmp_path: Path, containers_before: set[str], plain_repo: str
) -> None:
    code, errors, out = bad_run(tmp_path / "missing", plain_repo)
    assert code == 2, out
    assert len(errors) == 1 and "is not a directory" in errors[0], out
    assert "hint:" in out


def test_dockerfile_from_a_missing_image_is_bad_input(
    tmp_path: Path, containers_before: set[str], plain_repo: str
) -> None:
    ws = workspace(tmp_path)
    (ws / "Dockerfile").write_text("FROM torchrun-core/no-such-image:never\nRUN true\n")
    code, errors, out = bad_run(ws, plain_repo)
    assert code == 2, out
    assert len(errors) == 1 and "no-such-image" in errors[0], out
    assert "hint:" in out


def test_failing_run_step_names_the_step_and_its_output(
    tmp_path: Path, containers_before: set[str], plain_repo: str
) -> None:
    ws = workspace(tmp_path)
    (ws / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM $BASE_IMAGE\nRUN echo first-line && echo last-words && exit 3\n"
    )
    code, errors, out = bad_run(ws, plain_repo)
    assert code == 2, out
    assert len(errors) == 1, out
    assert "RUN echo first-line" in errors[0] and "last-words" in errors[0], out
    assert "hint:" in out


# --- credentials from the docker config --------------------------------------------------


def test_credentials_from_the_docker_config_are_used_and_never_shown(
    tmp_path: Path, docker_config: Path, registries: TestRegistries, repo_name: str,
    docker_api: Any, default_session: str,
) -> None:  # fmt: skip
    secret = registries.password
    auth = base64.b64encode(f"{registries.user}:{secret}".encode()).decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {registries.auth: {"auth": auth}}})
    )
    repo = f"{registries.auth}/{repo_name}"
    ws = workspace(tmp_path)
    cfg = {"image_repo": repo}
    with Runner("default") as runner:
        info = runner.dryrun(
            shell_app("python main.py", image=PYTHON), "docker", cfg, workspace=str(ws)
        )
        assert secret not in str(info) and secret not in "\n".join(info.notes)
        handle = runner.schedule(info)
        try:
            assert runner.wait(handle, timeout=120).state is AppState.SUCCEEDED
            assert list(runner.log_lines(handle)) == ["main says v1\n"]
            described = runner.describe(handle)
            assert described is not None
            assert described.app.roles[0].image.startswith(f"{repo}@sha256:")
            seen = f"{described} {described.app_json} {described.cfg}"
            assert secret not in seen and auth not in seen
        finally:
            runner.cancel(handle)
    credentials = f"{registries.user}:{secret}"
    assert len(registry_tags(registries.auth, repo_name, credentials)) == 1

    for args in (["--dryrun"], ["--wait"]):
        proc = run_cli(
            "run", "-s", "docker", *args, "--cfg", f"image_repo={repo}", "--workspace", str(ws),
            "utils.sh", "--image", PYTHON, "python main.py", timeout=180,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert secret not in proc.stdout + proc.stderr and auth not in proc.stdout + proc.stderr
    store = Path(os.environ.get("TORCHRUN_CORE_STATE_DIR", tmp_path))
    for path in store.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
