"""The ``slurm`` scheduler plugin: an app is one sbatch job, submitted over SSH.

This package's ``__init__`` is what the ``torchrun_core`` entry point loads during plugin
discovery, so it imports nothing heavy: neither the scheduler nor paramiko.
Both are named lazily, as ``"module:attr"`` strings; paramiko is imported
when an SSH connection is first made (never for a dry run).

It provides the ``slurm`` scheduler (``scheduler``) and the ``slurm``
workspace builder (``workspace``), which syncs a directory into the
app's job dir for ``run --workspace DIR``.

The modules of the package, by job:

- ``scheduler``: the Scheduler; ``options``: its options;
- ``script``: the sbatch script; ``status``: squeue/sacct parsing;
- ``jobdir``: what the job dir says; ``app_status``: both to AppStatus;
- ``record``: what this machine keeps of each app; ``control``: cancel and delete;
- ``logs``: log lines over SFTP; ``workspace``: the workspace sync;
- ``ssh_target`` / ``ssh_transport`` (and ``local_transport``): how commands reach the login node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrun_core._lazy import lazy_getattr
from torchrun_core.plugin import hookimpl

if TYPE_CHECKING:
    from torchrun_core.schedulers.slurm.options import SlurmOptions
    from torchrun_core.schedulers.slurm.scheduler import SlurmScheduler
    from torchrun_core.schedulers.slurm.workspace import SlurmWorkspaceBuilder

__all__ = [
    "SlurmOptions",
    "SlurmScheduler",
    "SlurmWorkspaceBuilder",
    "torchrun_core_schedulers",
    "torchrun_core_workspace_builders",
]


@hookimpl
def torchrun_core_schedulers() -> dict[str, str]:
    """The ``slurm`` scheduler, named lazily: ``factory(session, **params)``."""
    return {"slurm": "torchrun_core.schedulers.slurm.scheduler:SlurmScheduler"}


@hookimpl
def torchrun_core_workspace_builders() -> dict[str, str]:
    """The ``slurm`` workspace builder, named lazily: ``factory(scheduler)``."""
    return {"slurm": "torchrun_core.schedulers.slurm.workspace:SlurmWorkspaceBuilder"}


# The classes are imported on first access only (plugin discovery stays cheap).
__getattr__ = lazy_getattr(
    __name__,
    {
        "SlurmScheduler": "torchrun_core.schedulers.slurm.scheduler",
        "SlurmOptions": "torchrun_core.schedulers.slurm.options",
        "SlurmWorkspaceBuilder": "torchrun_core.schedulers.slurm.workspace",
    },
)
