"""``rerun`` of a workspace run on docker: the recorded digest, unless a new ``--workspace``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from docker_apps import PYTHON
from test_docker_registry_workspace import (  # noqa: F401  (fixtures)
    PushSpy,
    docker_config,
    plain_repo,
    registries,
    repo_name,
    run_workspace,
    workspace,
)

from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker


def rerun_output(runner: Runner, handle: object, **overrides: object) -> tuple[str, list[str]]:
    again = runner.rerun(handle, **overrides)  # type: ignore[arg-type]
    assert runner.wait(again, timeout=120).state is AppState.SUCCEEDED
    record = runner.describe(again)
    assert record.app is not None
    return record.app.roles[0].image, list(runner.log_lines(again))


def test_rerun_runs_the_recorded_digest_and_a_new_workspace_builds_on_the_base(
    runner: Runner,
    tmp_path: Path,
    plain_repo: str,  # noqa: F811
    docker_api: Any,
) -> None:
    ws = workspace(tmp_path, "first")
    image, lines, handle = run_workspace(runner, ws, {"image_repo": plain_repo})
    assert "@sha256:" in image and any("first" in line for line in lines)
    (ws / "data.txt").write_text("second\n")

    spy = PushSpy(runner)
    same, lines = rerun_output(runner, handle)
    assert same == image  # the very image that ran, though DIR changed since
    assert any("first" in line for line in lines)
    assert spy.pushes == []  # nothing built, nothing pushed

    new, lines = rerun_output(runner, handle, workspace=str(ws))
    assert new != image and new.startswith(f"{plain_repo}@sha256:")
    assert any("second" in line for line in lines)
    # Built on the role's own image (one layer on it), not on the first run's workspace image.
    layers = {ref: len(docker_api.inspect_image(ref)["RootFS"]["Layers"]) for ref in (image, new)}
    base = len(docker_api.inspect_image(PYTHON)["RootFS"]["Layers"])
    assert layers == {image: base + 1, new: base + 1}, layers
