"""``--workspace DIR`` on a real dockerd: built once per content, .dockerignore honoured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from docker_apps import PYTHON, shell_app

from torchrun_core.errors import InvalidInputError
from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker

LIST_AND_RUN = "pwd; find . -type f | sort; python main.py"


def _workspace(root: Path) -> Path:
    ws = root / "my workspace"
    (ws / "pkg").mkdir(parents=True)
    (ws / "main.py").write_text('print("main says", open("pkg/data.txt").read().strip())\n')
    (ws / "pkg" / "data.txt").write_text("v1\n")
    (ws / "build").mkdir()
    (ws / "build" / "junk.bin").write_text("junk\n")
    (ws / "notes.log").write_text("log\n")
    (ws / ".dockerignore").write_text("# not in the image\nbuild\n*.log\n")
    return ws


def _run(runner: Runner, ws: Path) -> tuple[str, list[str]]:
    info = runner.dryrun(shell_app(LIST_AND_RUN, image=PYTHON), "docker", workspace=str(ws))
    image = info.request.containers[0].body["Image"]
    handle = runner.schedule(info)
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    return image, list(runner.log_lines(handle))


def test_workspace_is_built_reused_and_rebuilt_on_change(
    runner: Runner, tmp_path: Path, docker_api: Any
) -> None:
    ws = _workspace(tmp_path)
    image, lines = _run(runner, ws)
    assert image.startswith("torchrun-core-workspace:")
    assert lines == [
        "/workspace\n",
        "./.dockerignore\n",
        "./main.py\n",
        "./pkg/data.txt\n",
        "main says v1\n",
    ]
    first_id = docker_api.inspect_image(image)["Id"]

    again, _ = _run(runner, ws)  # unchanged: the same image, not rebuilt
    assert again == image
    assert docker_api.inspect_image(again)["Id"] == first_id

    (ws / "build" / "junk.bin").write_text("ignored change\n")  # ignored: still the same
    assert _run(runner, ws)[0] == image

    (ws / "pkg" / "data.txt").write_text("v2\n")
    changed, lines = _run(runner, ws)
    assert changed != image
    assert lines[-1] == "main says v2\n"


def test_workspace_symlinks_stay_links_and_are_not_followed(runner: Runner, tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    (ws / "escape").symlink_to("/etc/hostname")
    info = runner.dryrun(
        shell_app("readlink escape; python main.py", image=PYTHON), "docker", workspace=str(ws)
    )
    handle = runner.schedule(info)
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    assert list(runner.log_lines(handle)) == ["/etc/hostname\n", "main says v1\n"]


def test_workspace_errors(runner: Runner, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="is not a directory"):
        runner.dryrun(shell_app("true"), "docker", workspace=str(tmp_path / "missing"))
    with pytest.raises(InvalidInputError, match="scheduler 'local' has no workspace builder"):
        runner.dryrun(shell_app("true"), "local", workspace=str(tmp_path))
