"""The ``local`` scheduler plugin: replicas run as processes on this machine.

This package's ``__init__`` is what the ``torchrun_core`` entry point loads
during plugin discovery, so it imports nothing heavy: the scheduler is named
lazily. ``LocalScheduler`` and ``LocalOptions`` can still be imported from here.

The modules of the package, by job:

- ``plan``: the dry-run request, a complete Popen plan per replica;
- ``launch``: writes the app dir and hands the app to the spawner;
- ``spawner``: the helper process, forked once per launcher, that forks supervisors;
- ``supervisor`` (+ ``replica``, ``supervisor_io``): runs the replicas, logs their
  output, applies retries, serves watchers and cancel;
- ``state`` / ``records``: the app dir's files and the supervisor's liveness (an flock);
- ``logs`` / ``log_reader``: per-attempt log files and whole-line reading;
- ``control`` / ``stopper`` / ``descendants``: cancel, and what a cancel must reach.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrun_core._lazy import lazy_getattr
from torchrun_core.plugin import hookimpl

if TYPE_CHECKING:
    from torchrun_core.schedulers.local.scheduler import LocalOptions, LocalScheduler

__all__ = ["LocalOptions", "LocalScheduler", "torchrun_core_schedulers"]


@hookimpl
def torchrun_core_schedulers() -> dict[str, str]:
    """The ``local`` scheduler, named lazily: ``factory(session, **params)``."""
    return {"local": "torchrun_core.schedulers.local.scheduler:LocalScheduler"}


# The classes are imported on first access only (plugin discovery stays cheap).
__getattr__ = lazy_getattr(
    __name__,
    {
        "LocalScheduler": "torchrun_core.schedulers.local.scheduler",
        "LocalOptions": "torchrun_core.schedulers.local.scheduler",
    },
)
