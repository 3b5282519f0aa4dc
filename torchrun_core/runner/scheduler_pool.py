"""The schedulers one Runner has made: created on first use by name and session, closed together."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from typing import Any

from torchrun_core.errors import PluginError
from torchrun_core.registry import BLOCK_ENV, PluginRegistry
from torchrun_core.runner.calls import backend_errors
from torchrun_core.scheduler import Scheduler


class SchedulerPool:
    """Makes each ``(scheduler name, session)`` once, from the plugins' factories.

    Args:
        registry: a callable giving the plugin registry (read on first use).
        params: extra constructor arguments per scheduler name.
    """

    def __init__(
        self,
        registry: Callable[[], PluginRegistry],
        params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._registry = registry
        self._params = {name: dict(kw) for name, kw in (params or {}).items()}
        self._made: dict[tuple[str, str], Scheduler[Any]] = {}
        self._lock = threading.Lock()

    def get(self, name: str, session: str) -> Scheduler[Any]:
        """Scheduler ``name`` for ``session``, made on first use.

        Raises:
            UnknownSchedulerError: listing the installed schedulers.
            BackendError: the factory raised (say, an SDK is missing).
            PluginError: the factory returned something that is not a Scheduler.
        """
        key = (name, session)
        with self._lock:
            found = self._made.get(key)
            if found is None:
                found = self._made[key] = self._create(name, session)
        return found

    def _create(self, name: str, session: str) -> Scheduler[Any]:
        registry = self._registry()
        factory = registry.scheduler_factory(name)
        with backend_errors(name, "create"):
            made = factory(session=session, **self._params.get(name, {}))
        if not isinstance(made, Scheduler):
            provider = registry.get("schedulers", name)
            plugin = provider.plugin if provider is not None else "?"
            raise PluginError(
                f"scheduler {name!r} of plugin {plugin!r}: its factory returned "
                f"{type(made).__name__}, not a torchrun_core.scheduler.Scheduler",
                hint=f"the plugin is broken: report it to its author, or block it with "
                f"{BLOCK_ENV}={plugin}",
                scheduler=name,
                plugin=plugin,
            )
        return made

    def close(self) -> None:
        """Close every scheduler made so far, even when one fails (the first error is raised)."""
        with self._lock:
            made, self._made = list(self._made.values()), {}
        with ExitStack() as stack:
            for sched in made:
                stack.callback(_close, sched)


def _close(sched: Scheduler[Any]) -> None:
    with backend_errors(sched.name, "close"):
        sched.close()
