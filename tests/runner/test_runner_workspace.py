"""The Runner and a planning workspace builder: the dry run plans, schedule builds, rerun reuses.

The builder here stands for docker's and kubernetes' (which build and push an
image): it records every call, so the tests see when work happens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from inmemory_scheduler import InMemoryEngine, make_registry

from torchrun_core import AppDef, Role
from torchrun_core.hookspecs import hookimpl
from torchrun_core.runner import Runner
from torchrun_core.workspace_builder import BASES_METADATA, PlanningWorkspaceBuilder, WorkspacePlan

CALLS: list[str] = []


class RecordingBuilder:
    """Plans ``<image>+ws:<dir name>``; realizing turns it into ``<image>@sha256:<dir name>``."""

    def __init__(self, scheduler: object) -> None:
        self.scheduler = scheduler

    def plan(
        self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None
    ) -> WorkspacePlan:
        CALLS.append(f"plan {workspace}")
        name = Path(workspace).name
        bases = {r.name: r.image for r in app.roles}
        roles = [r.model_dump() | {"image": f"{r.image}+ws:{name}"} for r in app.roles]
        metadata = {**app.metadata, BASES_METADATA: json.dumps(bases)}
        planned = AppDef.model_validate({**app.model_dump(), "roles": roles, "metadata": metadata})

        def realize(given: AppDef) -> AppDef:
            CALLS.append(f"realize {workspace}")
            done = [
                r.model_dump() | {"image": r.image.replace("+ws:", "@sha256:")} for r in given.roles
            ]
            return AppDef.model_validate({**given.model_dump(), "roles": done})

        return WorkspacePlan(planned, realize, [f"would build and push {name}"])

    def build(self, app: AppDef, workspace: str, cfg: Mapping[str, Any] | None = None) -> AppDef:
        plan = self.plan(app, workspace, cfg)
        return plan.realize(plan.app)


class WorkspacePlugin:
    @hookimpl
    def torchrun_core_workspace_builders(self) -> dict[str, Any]:
        return {"inmemory": RecordingBuilder}


@pytest.fixture
def ws_runner(engine: InMemoryEngine) -> Iterator[Runner]:
    CALLS.clear()
    with Runner("test", registry=make_registry(engine, WorkspacePlugin())) as made:
        yield made


def app() -> AppDef:
    return AppDef(name="ws", roles=[Role(name="main", image="base:1", entrypoint="python")])


def test_the_recording_builder_is_a_planning_builder() -> None:
    assert isinstance(RecordingBuilder(None), PlanningWorkspaceBuilder)


def test_the_dry_run_plans_and_builds_nothing(ws_runner: Runner, tmp_path: Path) -> None:
    info = ws_runner.dryrun(app(), "inmemory", workspace=str(tmp_path / "v1"))
    assert [f"plan {tmp_path / 'v1'}"] == CALLS
    assert info.app.roles[0].image == "base:1+ws:v1"
    assert "would build and push v1" in info.notes


def test_schedule_builds_then_submits_the_built_image(ws_runner: Runner, tmp_path: Path) -> None:
    info = ws_runner.dryrun(app(), "inmemory", workspace=str(tmp_path / "v1"))
    handle = ws_runner.schedule(info)
    assert [f"plan {tmp_path / 'v1'}", f"realize {tmp_path / 'v1'}"] == CALLS
    recorded = ws_runner.describe(handle).app
    assert recorded is not None and recorded.roles[0].image == "base:1@sha256:v1"
    # The tracker env the dry run injected is still there after the rebuild of the request.
    assert any(k.startswith("TORCHRUN_CORE_") for k in recorded.roles[0].env)


def test_rerun_runs_the_recorded_digest_without_building(ws_runner: Runner, tmp_path: Path) -> None:
    first = ws_runner.run(app(), "inmemory", workspace=str(tmp_path / "v1"))
    CALLS.clear()
    again = ws_runner.rerun(first)
    assert CALLS == []
    recorded = ws_runner.describe(again).app
    assert recorded is not None and recorded.roles[0].image == "base:1@sha256:v1"


def test_rerun_with_a_new_workspace_builds_on_the_original_image(
    ws_runner: Runner, tmp_path: Path
) -> None:
    first = ws_runner.run(app(), "inmemory", workspace=str(tmp_path / "v1"))
    CALLS.clear()
    again = ws_runner.rerun(first, workspace=str(tmp_path / "v2"))
    assert [f"plan {tmp_path / 'v2'}", f"realize {tmp_path / 'v2'}"] == CALLS
    recorded = ws_runner.describe(again).app
    # Built from base:1, not from the first run's workspace image.
    assert recorded is not None and recorded.roles[0].image == "base:1@sha256:v2"
