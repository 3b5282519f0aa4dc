"""Every hook a torchrun_core plugin can implement.

A plugin is any module registered under the ``torchrun_core`` entry-point
group whose functions carry ``@torchrun_core.hookimpl``. Builtins register
the same way. No hook here is ``firstresult``: each plugin adds its own
names, and a name two plugins both provide is a conflict reported with both
plugin names.

Hooks returning mappings may give values as objects or as ``"module:attr"``
strings, which are imported only when that entry is first used; this keeps
discovery free of heavy SDK imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from torchrun_core.scheduler import Scheduler
    from torchrun_core.specs.app import AppDef
    from torchrun_core.specs.resource import Resource
    from torchrun_core.workspace_builder import WorkspaceBuilderFactory

PROJECT = "torchrun_core"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

SchedulerFactory = Callable[..., "Scheduler[Any]"]
Lazy = Any  # an object, or a "module:attr" string naming it


@dataclass(frozen=True)
class RunnerEvent:
    """One Runner API call, as seen by ``torchrun_core_on_event`` observers."""

    api: str
    scheduler: str | None
    app_id: str | None
    duration_s: float
    error: str | None = None
    handle: str | None = None


@hookspec
def torchrun_core_schedulers() -> Mapping[str, SchedulerFactory | str]:  # type: ignore[empty-body]
    """Schedulers this plugin provides, by name.

    Each value is a factory called as ``factory(session=..., **params)``
    returning a :class:`~torchrun_core.scheduler.Scheduler`, or a
    ``"module:attr"`` string naming one. Not firstresult: every plugin's
    mapping is merged.
    """


@hookspec
def torchrun_core_components() -> Mapping[str, Callable[..., AppDef] | str]:  # type: ignore[empty-body]
    """Components this plugin provides, by name (``"group.fn"``).

    Each value is a function returning an :class:`~torchrun_core.AppDef`, or
    a ``"module:attr"`` string naming one. Not firstresult.
    """


@hookspec
def torchrun_core_named_resources() -> Mapping[str, Resource | Callable[[], Resource] | str]:  # type: ignore[empty-body]
    """Named resources (``Role.resource = "gpu.small"``) this plugin provides.

    Values are a Resource, a zero-argument factory, or a ``"module:attr"``
    string naming either. Not firstresult.
    """


@hookspec
def torchrun_core_trackers() -> Mapping[str, Callable[..., Any] | str]:  # type: ignore[empty-body]
    """Tracker backends this plugin provides, by name.

    Each value is a factory ``factory(config: str | None)`` returning a
    tracker backend, or a ``"module:attr"`` string naming one. Not firstresult.
    """


@hookspec
def torchrun_core_workspace_builders() -> Mapping[str, WorkspaceBuilderFactory | str]:  # type: ignore[empty-body]
    """Workspace builders this plugin provides, keyed by scheduler name.

    Each value is a factory (or ``"module:attr"`` naming one) called with the
    scheduler, returning a :class:`~torchrun_core.workspace_builder.WorkspaceBuilder`
    that turns a local directory into an image or a synced job directory for
    that scheduler. Not firstresult.
    """


@hookspec
def torchrun_core_on_event(event: RunnerEvent) -> None:
    """Observe one Runner API call after it finished (or failed).

    Observe-only: the return value is ignored, and an exception raised here
    is swallowed so that an observer can never break a run. Not firstresult.

    :param event: the API name, scheduler, app id, duration and error, if any.
    """
