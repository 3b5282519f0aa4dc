"""The ``slurm`` scheduler plugin: an app is one sbatch job, submitted over SSH.

This module is what the ``torchrun_core`` entry point loads during plugin
discovery, so it imports nothing heavy: neither the scheduler nor paramiko.
Both are named lazily, as ``"module:attr"`` strings; paramiko is imported
when an SSH connection is first made (never for a dry run).

It provides the ``slurm`` scheduler (``slurm_scheduler``) and the ``slurm``
workspace builder (``slurm_workspace``), which syncs a directory into the
app's job dir for ``run --workspace DIR``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrun_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from torchrun_core.schedulers.slurm_options import SlurmOptions
    from torchrun_core.schedulers.slurm_scheduler import SlurmScheduler
    from torchrun_core.schedulers.slurm_workspace import SlurmWorkspaceBuilder

__all__ = [
    "SlurmOptions",
    "SlurmScheduler",
    "SlurmWorkspaceBuilder",
    "torchrun_core_schedulers",
    "torchrun_core_workspace_builders",
]

_LAZY = {
    "SlurmScheduler": "slurm_scheduler",
    "SlurmOptions": "slurm_options",
    "SlurmWorkspaceBuilder": "slurm_workspace",
}


@hookimpl
def torchrun_core_schedulers() -> dict[str, str]:
    """The ``slurm`` scheduler, named lazily: ``factory(session, **params)``."""
    return {"slurm": "torchrun_core.schedulers.slurm_scheduler:SlurmScheduler"}


@hookimpl
def torchrun_core_workspace_builders() -> dict[str, str]:
    """The ``slurm`` workspace builder, named lazily: ``factory(scheduler)``."""
    return {"slurm": "torchrun_core.schedulers.slurm_workspace:SlurmWorkspaceBuilder"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"torchrun_core.schedulers.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
