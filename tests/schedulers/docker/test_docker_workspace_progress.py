"""Workspace build and push progress in the real CLI: shown on a terminal, nothing extra off one."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from docker_apps import PYTHON
from registry_env import TestRegistries, require_registries
from test_docker_registry_workspace import delete_local

pytestmark = pytest.mark.docker


@pytest.fixture
def repo(docker_host: str, docker_api: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DOCKER_HOST", docker_host)  # the CLI's daemon, for build and run
    registries: TestRegistries = require_registries()
    name = f"trc-ws/{uuid.uuid4().hex[:12]}"
    yield f"{registries.plain}/{name}"
    delete_local(docker_api, name)


def workspace(tmp_path: Path, text: str) -> Path:
    root = tmp_path / f"ws-{uuid.uuid4().hex[:6]}"
    root.mkdir()
    (root / "main.py").write_text(f"print({text!r})\n")
    return root


def argv(repo: str, root: Path) -> list[str]:
    return [
        sys.executable, "-m", "torchrun_core", "run", "--scheduler", "docker",
        "--cfg", f"image_repo={repo}", "--workspace", str(root),
        "utils.python", "--image", PYTHON, "--script", "main.py",
    ]  # fmt: skip


def run_on_a_terminal(cmd: list[str]) -> tuple[int, str]:
    """``cmd`` with stderr on a pseudo-terminal; returns its exit code and what the terminal got."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return proc.wait(timeout=180), b"".join(chunks).decode(errors="replace")


def test_a_terminal_shows_the_build_steps_and_the_push(repo: str, tmp_path: Path) -> None:
    code, shown = run_on_a_terminal(argv(repo, workspace(tmp_path, "on a tty")))
    assert code == 0, shown
    # The build's steps (rich wraps them at the terminal's width), then the push's layers.
    assert "Step 1/3" in shown and "Step 3/3" in shown, shown
    assert f"push {repo}" in shown.replace("\r\n", ""), shown


def test_off_a_terminal_nothing_extra_is_printed(repo: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        argv(repo, workspace(tmp_path, "piped")),
        capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Step " not in proc.stderr and "Pushing" not in proc.stderr
    assert "Step " not in proc.stdout
