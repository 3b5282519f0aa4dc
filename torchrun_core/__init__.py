"""torchrun_core: describe a distributed job once, run it on any scheduler.

This facade is lazy: ``import torchrun_core`` loads nothing heavy, and each
name below is imported on first access.
"""

from __future__ import annotations

import sys

from torchrun_core._lazy import lazy_getattr
from torchrun_core.specs import named_resources as _named_resources

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~5 ms); mypy honours it
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType


class _MovedModuleFinder:
    """Old module paths (before the regrouping into packages) still import: see ``_moved``.

    Last on ``sys.meta_path``, so only a name that no real module has reaches
    it, and the table of old names is loaded only then.
    """

    @classmethod
    def find_spec(
        cls, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if not name.startswith("torchrun_core."):
            return None
        from torchrun_core._moved import spec_for

        return spec_for(name)


if _MovedModuleFinder not in sys.meta_path:
    sys.meta_path.append(_MovedModuleFinder)


def _named_resource_from_plugins(name: str) -> Resource:
    # The composition root wires the specs (which know no plugins) to the registry.
    from torchrun_core.registry import named_resource

    return named_resource(name)


_named_resources.use_resource_resolver(_named_resource_from_plugins)

__version__ = "0.1.0"

_EXPORTS = {
    "AppDef": "torchrun_core.specs.app",
    "Role": "torchrun_core.specs.app",
    "Resource": "torchrun_core.specs.resource",
    "RetryPolicy": "torchrun_core.specs.retry",
    "BindMount": "torchrun_core.specs.mounts",
    "VolumeMount": "torchrun_core.specs.mounts",
    "DeviceMount": "torchrun_core.specs.mounts",
    "Macros": "torchrun_core.specs.macros",
    "AppState": "torchrun_core.specs.state",
    "AppStatus": "torchrun_core.specs.status",
    "RoleStatus": "torchrun_core.specs.status",
    "ReplicaStatus": "torchrun_core.specs.status",
    "AppHandle": "torchrun_core.specs.handle",
    "AppDryRunInfo": "torchrun_core.specs.dryrun",
    "Scheduler": "torchrun_core.scheduler",
    "SchedulerOptions": "torchrun_core.scheduler",
    "Stream": "torchrun_core.scheduler",
    "Runner": "torchrun_core.runner",
    "get_runner": "torchrun_core.runner",
    "RunStore": "torchrun_core.runstore",
    "RunnerEvent": "torchrun_core.hookspecs",
    "hookimpl": "torchrun_core.hookspecs",
    "TorchrunCoreError": "torchrun_core.errors",
}

# Spelled out (not computed from _EXPORTS) so that type checkers see the
# re-exports: mypy --strict rejects `from torchrun_core import AppDef` otherwise.
# tests/test_lazy_imports.py checks it matches _EXPORTS and stays sorted.
__all__ = [
    "AppDef",
    "AppDryRunInfo",
    "AppHandle",
    "AppState",
    "AppStatus",
    "BindMount",
    "DeviceMount",
    "Macros",
    "ReplicaStatus",
    "Resource",
    "RetryPolicy",
    "Role",
    "RoleStatus",
    "RunStore",
    "Runner",
    "RunnerEvent",
    "Scheduler",
    "SchedulerOptions",
    "Stream",
    "TorchrunCoreError",
    "VolumeMount",
    "__version__",
    "get_runner",
    "hookimpl",
]

__getattr__ = lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static analysers see real imports
    from torchrun_core.errors import TorchrunCoreError
    from torchrun_core.hookspecs import RunnerEvent, hookimpl
    from torchrun_core.runner import Runner, get_runner
    from torchrun_core.runstore import RunStore
    from torchrun_core.scheduler import Scheduler, SchedulerOptions, Stream
    from torchrun_core.specs.app import AppDef, Role
    from torchrun_core.specs.dryrun import AppDryRunInfo
    from torchrun_core.specs.handle import AppHandle
    from torchrun_core.specs.macros import Macros
    from torchrun_core.specs.mounts import BindMount, DeviceMount, VolumeMount
    from torchrun_core.specs.resource import Resource
    from torchrun_core.specs.retry import RetryPolicy
    from torchrun_core.specs.state import AppState
    from torchrun_core.specs.status import AppStatus, ReplicaStatus, RoleStatus
