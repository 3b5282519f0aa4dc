"""The ``kubernetes`` scheduler plugin: plain batch/v1 Jobs, no Volcano, no CRDs by default.

Loaded during plugin discovery, so it imports nothing heavy: the scheduler is
named lazily as a ``"module:attr"`` string and the ``kubernetes`` SDK is
imported only when a cluster is first contacted (never for a dry run).

The modules of the package, by job:

- ``scheduler``: the Scheduler; ``options``: its options; ``capability``: what the server supports;
- ``plan``: the dry run, choosing ``manifests`` (plain Jobs) or ``jobset``;
- ``submit``: creating and deleting; ``state``: objects to states;
- ``logs`` / ``follow``: log lines; ``watch``: the watch-based waiter;
- ``client``: the connection; ``errors``: error translation; ``text``: messages;
- ``workspace``: the ``--workspace`` image builder (built with docker, pushed to ``image_repo``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrun_core._lazy import lazy_getattr
from torchrun_core.plugin import hookimpl

if TYPE_CHECKING:
    from torchrun_core.schedulers.kubernetes.options import KubernetesOptions
    from torchrun_core.schedulers.kubernetes.scheduler import KubernetesScheduler
    from torchrun_core.schedulers.kubernetes.workspace import KubernetesWorkspaceBuilder

__all__ = [
    "KubernetesOptions",
    "KubernetesScheduler",
    "KubernetesWorkspaceBuilder",
    "torchrun_core_schedulers",
    "torchrun_core_workspace_builders",
]


@hookimpl
def torchrun_core_schedulers() -> dict[str, str]:
    """The ``kubernetes`` scheduler, named lazily: ``factory(session, **params)``."""
    return {"kubernetes": "torchrun_core.schedulers.kubernetes.scheduler:KubernetesScheduler"}


@hookimpl
def torchrun_core_workspace_builders() -> dict[str, str]:
    """The ``kubernetes`` workspace builder, named lazily: ``factory(scheduler)``."""
    return {
        "kubernetes": "torchrun_core.schedulers.kubernetes.workspace:KubernetesWorkspaceBuilder"
    }


# The classes are imported on first access only (plugin discovery stays cheap).
__getattr__ = lazy_getattr(
    __name__,
    {
        "KubernetesScheduler": "torchrun_core.schedulers.kubernetes.scheduler",
        "KubernetesOptions": "torchrun_core.schedulers.kubernetes.options",
        "KubernetesWorkspaceBuilder": "torchrun_core.schedulers.kubernetes.workspace",
    },
)
