"""The ``local`` scheduler plugin: replicas run as processes on this machine.

This module is what the ``torchrun_core`` entry point loads during plugin
discovery, so it imports nothing heavy: the scheduler itself lives in
``local_scheduler`` and is named lazily. ``LocalScheduler`` and
``LocalOptions`` can still be imported from here.

How it works, module by module:

- ``local_plan``: the dry-run request, a complete Popen plan per replica;
- ``local_launch``: writes the app dir and hands the app to the spawner;
- ``local_spawner``: the helper process, forked once per launcher, that forks supervisors;
- ``local_supervisor`` (+ ``local_replica``, ``local_supervisor_io``): runs the replicas,
  logs their output, applies retries, serves watchers and cancel;
- ``local_state``: the app dir's files and the supervisor's liveness (an flock);
- ``local_logs`` / ``local_log_reader``: per-attempt log files and whole-line reading;
- ``local_control``: clients of the supervisor's socket (watch, cancel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrun_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from torchrun_core.schedulers.local_scheduler import LocalOptions, LocalScheduler

__all__ = ["LocalOptions", "LocalScheduler", "torchrun_core_schedulers"]

_LAZY = {"LocalScheduler", "LocalOptions"}


@hookimpl
def torchrun_core_schedulers() -> dict[str, str]:
    """The ``local`` scheduler, named lazily: ``factory(session, **params)``."""
    return {"local": "torchrun_core.schedulers.local_scheduler:LocalScheduler"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from torchrun_core.schedulers import local_scheduler

        return getattr(local_scheduler, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
