"""Apply a scheduler's workspace builder: a local directory into an image or a synced job dir."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.registry import PluginRegistry
from torchrun_core.runner.calls import backend_errors
from torchrun_core.scheduler import Scheduler
from torchrun_core.specs.app import AppDef
from torchrun_core.workspace_builder import WorkspaceBuilder


def build_workspace(
    registry: PluginRegistry,
    sched: Scheduler[Any],
    app: AppDef,
    workspace: str,
    cfg: Mapping[str, Any] | None,
) -> AppDef:
    """``app`` as ``sched``'s workspace builder makes it for the directory ``workspace``.

    Raises:
        InvalidInputError: the scheduler has no workspace builder.
        BackendError: the builder failed with an error of its engine.
    """
    provider = registry.get("workspace_builders", sched.name)
    if provider is None:
        raise InvalidInputError(
            f"scheduler {sched.name!r} has no workspace builder",
            hint="run without --workspace, or on a scheduler that has one (docker)",
            scheduler=sched.name,
        )
    with backend_errors(sched.name, "workspace"):
        builder: WorkspaceBuilder = provider.load()(sched)
        built = builder.build(app, workspace, cfg)
    return built
