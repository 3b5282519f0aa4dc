"""The ``docker`` scheduler plugin: each replica runs as a container.

This module is what the ``torchrun_core`` entry point loads during plugin
discovery, so it imports nothing heavy: neither the scheduler nor the
``docker`` SDK. Both are named lazily, as ``"module:attr"`` strings, and the
SDK is imported only when a daemon is first needed. ``DockerScheduler``,
``DockerOptions`` and ``DockerWorkspaceBuilder`` can still be imported from here.

It provides the ``docker`` scheduler (``docker_scheduler``) and the
``docker`` workspace builder (``docker_workspace``), which turns a directory
into an image for ``run --workspace DIR``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrun_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from torchrun_core.schedulers.docker_options import DockerOptions
    from torchrun_core.schedulers.docker_scheduler import DockerScheduler
    from torchrun_core.schedulers.docker_workspace import DockerWorkspaceBuilder

__all__ = [
    "DockerOptions",
    "DockerScheduler",
    "DockerWorkspaceBuilder",
    "torchrun_core_schedulers",
    "torchrun_core_workspace_builders",
]

_LAZY = {
    "DockerScheduler": "docker_scheduler",
    "DockerOptions": "docker_options",
    "DockerWorkspaceBuilder": "docker_workspace",
}


@hookimpl
def torchrun_core_schedulers() -> dict[str, str]:
    """The ``docker`` scheduler, named lazily: ``factory(session, **params)``."""
    return {"docker": "torchrun_core.schedulers.docker_scheduler:DockerScheduler"}


@hookimpl
def torchrun_core_workspace_builders() -> dict[str, str]:
    """The ``docker`` workspace builder, named lazily: ``factory(scheduler)``."""
    return {"docker": "torchrun_core.schedulers.docker_workspace:DockerWorkspaceBuilder"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"torchrun_core.schedulers.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
