"""Apply a scheduler's workspace builder: plan at the dry run, realize right before submitting."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.registry import PluginRegistry
from torchrun_core.runner.calls import backend_errors
from torchrun_core.scheduler import Scheduler
from torchrun_core.specs.app import AppDef
from torchrun_core.workspace_builder import (
    PlanningWorkspaceBuilder,
    WorkspaceBuilder,
    WorkspacePlan,
)


def plan_workspace(
    registry: PluginRegistry,
    sched: Scheduler[Any],
    app: AppDef,
    workspace: str,
    cfg: Mapping[str, Any] | None,
) -> WorkspacePlan:
    """What ``sched``'s workspace builder would make of ``workspace``, building nothing.

    A builder without ``plan`` builds now (slurm's only marks the app); its
    plan has nothing left to realize.

    Raises:
        InvalidInputError: the scheduler has no workspace builder.
        BackendError: the builder failed with an error of its engine.
    """
    builder = _builder(registry, sched)
    with backend_errors(sched.name, "workspace"):
        if isinstance(builder, PlanningWorkspaceBuilder):
            return builder.plan(app, workspace, cfg)
        built = builder.build(app, workspace, cfg)
    return WorkspacePlan(built, realize=lambda planned: planned)


def realize_workspace(
    sched: Scheduler[Any], plan: Callable[[AppDef], AppDef], app: AppDef
) -> AppDef:
    """``app`` with the planned workspace built and pushed (``AppDryRunInfo.pending_build``).

    Raises:
        InvalidInputError: a Dockerfile failed, a registry refused the credentials.
        BackendError: the engine or the registry failed.
    """
    with backend_errors(sched.name, "workspace"):
        return plan(app)


def _builder(registry: PluginRegistry, sched: Scheduler[Any]) -> WorkspaceBuilder:
    provider = registry.get("workspace_builders", sched.name)
    if provider is None:
        raise InvalidInputError(
            f"scheduler {sched.name!r} has no workspace builder",
            hint="run without --workspace, or on a scheduler that has one (docker)",
            scheduler=sched.name,
        )
    with backend_errors(sched.name, "workspace"):
        builder: WorkspaceBuilder = provider.load()(sched)
    return builder
