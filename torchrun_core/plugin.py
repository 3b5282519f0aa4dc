"""Everything a plugin needs, in one place: ``from torchrun_core.plugin import ...``.

A scheduler, tracker, workspace-builder, component or named-resource plugin
imports from this module only (docs/plugins.md, tests/plugin_dist). It is a
lazy facade: importing it costs nothing, each name is imported on first use,
so a plugin module loaded during discovery stays cheap.

- hooks: :data:`hookimpl`, :class:`RunnerEvent`;
- schedulers: :class:`Scheduler`, :class:`SchedulerOptions`, :class:`OptionInfo`,
  :class:`Stream`, :class:`Watcher`, :class:`ListedApp`, :class:`TrackerRoot`,
  :func:`state_dir`;
- the app specs a scheduler reads and returns: :class:`AppDef`, :class:`Role`,
  :class:`Resource`, :class:`Macros`, :class:`AppDryRunInfo`, :class:`AppState`,
  :class:`AppStatus`, :class:`RoleStatus`, :class:`ReplicaStatus`;
- trackers: :class:`TrackerBackend`, :class:`RunContext`, :class:`TrackingWarning`;
- workspace builders: :class:`WorkspaceBuilder`, ``WorkspaceBuilderFactory``,
  :class:`PlanningWorkspaceBuilder`, :class:`WorkspacePlan`, ``BASES_METADATA``;
- the errors a plugin raises: :class:`TorchrunCoreError` and its subclasses.

The older paths (``torchrun_core``, ``torchrun_core.errors``, ``torchrun_core.paths``,
``torchrun_core.scheduler``, ``torchrun_core.tracking``) keep working.
"""

from __future__ import annotations

from torchrun_core._lazy import lazy_getattr

_ERRORS = (
    "AppCancelledError",
    "AppError",
    "AppFailedError",
    "AppNotFoundError",
    "BackendError",
    "ComponentError",
    "ConfigError",
    "InvalidInputError",
    "InvalidOptionError",
    "MalformedHandleError",
    "PluginConflictError",
    "PluginError",
    "SchedulerUnavailableError",
    "SpecError",
    "TorchrunCoreError",
    "UnexpectedStateError",
    "UnknownSchedulerError",
    "WaitTimeoutError",
)

_EXPORTS = {
    "hookimpl": "torchrun_core.hookspecs",
    "RunnerEvent": "torchrun_core.hookspecs",
    "ListedApp": "torchrun_core.scheduler",
    "OptionInfo": "torchrun_core.scheduler",
    "Scheduler": "torchrun_core.scheduler",
    "SchedulerOptions": "torchrun_core.scheduler",
    "Stream": "torchrun_core.scheduler",
    "TrackerRoot": "torchrun_core.specs.tracker_root",
    "Watcher": "torchrun_core.scheduler",
    "state_dir": "torchrun_core.paths",
    "AppDef": "torchrun_core.specs.app",
    "Role": "torchrun_core.specs.app",
    "Resource": "torchrun_core.specs.resource",
    "Macros": "torchrun_core.specs.macros",
    "AppDryRunInfo": "torchrun_core.specs.dryrun",
    "AppState": "torchrun_core.specs.state",
    "AppStatus": "torchrun_core.specs.status",
    "RoleStatus": "torchrun_core.specs.status",
    "ReplicaStatus": "torchrun_core.specs.status",
    "RunContext": "torchrun_core.tracking.records",
    "TrackerBackend": "torchrun_core.tracking.protocol",
    "TrackingWarning": "torchrun_core.tracking.protocol",
    "BASES_METADATA": "torchrun_core.workspace_builder",
    "PlanningWorkspaceBuilder": "torchrun_core.workspace_builder",
    "WorkspaceBuilder": "torchrun_core.workspace_builder",
    "WorkspaceBuilderFactory": "torchrun_core.workspace_builder",
    "WorkspacePlan": "torchrun_core.workspace_builder",
    **{name: "torchrun_core.errors" for name in _ERRORS},
}

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from torchrun_core.errors import (
        AppCancelledError,
        AppError,
        AppFailedError,
        AppNotFoundError,
        BackendError,
        ComponentError,
        ConfigError,
        InvalidInputError,
        InvalidOptionError,
        MalformedHandleError,
        PluginConflictError,
        PluginError,
        SchedulerUnavailableError,
        SpecError,
        TorchrunCoreError,
        UnexpectedStateError,
        UnknownSchedulerError,
        WaitTimeoutError,
    )
    from torchrun_core.hookspecs import RunnerEvent, hookimpl
    from torchrun_core.paths import state_dir
    from torchrun_core.scheduler import (
        ListedApp,
        OptionInfo,
        Scheduler,
        SchedulerOptions,
        Stream,
        Watcher,
    )
    from torchrun_core.specs.app import AppDef, Role
    from torchrun_core.specs.dryrun import AppDryRunInfo
    from torchrun_core.specs.macros import Macros
    from torchrun_core.specs.resource import Resource
    from torchrun_core.specs.state import AppState
    from torchrun_core.specs.status import AppStatus, ReplicaStatus, RoleStatus
    from torchrun_core.specs.tracker_root import TrackerRoot
    from torchrun_core.tracking.protocol import TrackerBackend, TrackingWarning
    from torchrun_core.tracking.records import RunContext
    from torchrun_core.workspace_builder import (
        BASES_METADATA,
        PlanningWorkspaceBuilder,
        WorkspaceBuilder,
        WorkspaceBuilderFactory,
        WorkspacePlan,
    )

__getattr__ = lazy_getattr(__name__, _EXPORTS)

# Spelled out so that type checkers see the re-exports; tests/plugin checks it matches _EXPORTS.
__all__ = [
    "BASES_METADATA",
    "AppCancelledError",
    "AppDef",
    "AppDryRunInfo",
    "AppError",
    "AppFailedError",
    "AppNotFoundError",
    "AppState",
    "AppStatus",
    "BackendError",
    "ComponentError",
    "ConfigError",
    "InvalidInputError",
    "InvalidOptionError",
    "ListedApp",
    "Macros",
    "MalformedHandleError",
    "OptionInfo",
    "PlanningWorkspaceBuilder",
    "PluginConflictError",
    "PluginError",
    "ReplicaStatus",
    "Resource",
    "Role",
    "RoleStatus",
    "RunContext",
    "RunnerEvent",
    "Scheduler",
    "SchedulerOptions",
    "SchedulerUnavailableError",
    "SpecError",
    "Stream",
    "TorchrunCoreError",
    "TrackerBackend",
    "TrackerRoot",
    "TrackingWarning",
    "UnexpectedStateError",
    "UnknownSchedulerError",
    "WaitTimeoutError",
    "Watcher",
    "WorkspaceBuilder",
    "WorkspaceBuilderFactory",
    "WorkspacePlan",
    "hookimpl",
    "state_dir",
]


def __dir__() -> list[str]:
    return list(__all__)
