"""The ``docker`` scheduler plugin: each replica runs as a container.

This package's ``__init__`` is what the ``torchrun_core`` entry point loads during plugin
discovery, so it imports nothing heavy: neither the scheduler nor the
``docker`` SDK. Both are named lazily, as ``"module:attr"`` strings, and the
SDK is imported only when a daemon is first needed. ``DockerScheduler``,
``DockerOptions`` and ``DockerWorkspaceBuilder`` can still be imported from here.

It provides the ``docker`` scheduler (``scheduler``) and the
``docker`` workspace builder (``workspace``), which turns a directory
into an image for ``run --workspace DIR``.

The modules of the package, by job:

- ``scheduler``: the Scheduler; ``options``: its options;
- ``plan`` (+ ``plan_text``): the dry run; ``launch``: create, start and remove;
- ``state`` / ``appdir``: labels to states, and what labels cannot say;
- ``logs``: log lines; ``watch``: the event watcher; ``supervisor``: retries;
- ``client``: the connection and error translation; ``workspace``: the image builder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrun_core._lazy import lazy_getattr
from torchrun_core.plugin import hookimpl

if TYPE_CHECKING:
    from torchrun_core.schedulers.docker.options import DockerOptions
    from torchrun_core.schedulers.docker.scheduler import DockerScheduler
    from torchrun_core.schedulers.docker.workspace import DockerWorkspaceBuilder

__all__ = [
    "DockerOptions",
    "DockerScheduler",
    "DockerWorkspaceBuilder",
    "torchrun_core_schedulers",
    "torchrun_core_workspace_builders",
]


@hookimpl
def torchrun_core_schedulers() -> dict[str, str]:
    """The ``docker`` scheduler, named lazily: ``factory(session, **params)``."""
    return {"docker": "torchrun_core.schedulers.docker.scheduler:DockerScheduler"}


@hookimpl
def torchrun_core_workspace_builders() -> dict[str, str]:
    """The ``docker`` workspace builder, named lazily: ``factory(scheduler)``."""
    return {"docker": "torchrun_core.schedulers.docker.workspace:DockerWorkspaceBuilder"}


# The classes are imported on first access only (plugin discovery stays cheap).
__getattr__ = lazy_getattr(
    __name__,
    {
        "DockerScheduler": "torchrun_core.schedulers.docker.scheduler",
        "DockerOptions": "torchrun_core.schedulers.docker.options",
        "DockerWorkspaceBuilder": "torchrun_core.schedulers.docker.workspace",
    },
)
