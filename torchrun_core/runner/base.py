"""The Runner's plumbing: its session, store, plugins, scheduler pool and API observation.

The public calls live in mixins that each own one concern (submission and
observation in :mod:`torchrun_core.runner`, queries in
:mod:`torchrun_core.runner.queries`, control in
:mod:`torchrun_core.runner.control`, tracking read-back in
:mod:`torchrun_core.runner.tracking`); they all build on this class.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager, ExitStack
from typing import Any, TypeVar

from torchrun_core.errors import InvalidInputError
from torchrun_core.registry import PluginRegistry, get_registry
from torchrun_core.runner.calls import ApiCall, observed
from torchrun_core.runner.scheduler_pool import SchedulerPool
from torchrun_core.runner.state_sync import StateSync
from torchrun_core.runstore import RunStore
from torchrun_core.scheduler import Scheduler
from torchrun_core.specs.handle import AppHandle, parse_handle

_SESSION_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_RunnerT = TypeVar("_RunnerT", bound="RunnerBase")


class RunnerBase:
    """A session over the installed scheduler plugins and the run store.

    Args:
        name: the session name; it is part of every handle this runner makes.
        store: the run store (default: the user's, in the state dir).
        registry: the plugins to use (default: every installed plugin).
        scheduler_params: extra constructor arguments per scheduler name.
        tracker_config: tracker name -> config injected into jobs (default:
            the launching process's ``TORCHRUN_CORE_TRACKERS`` env).
    """

    def __init__(
        self,
        name: str = "default",
        *,
        store: RunStore | None = None,
        registry: PluginRegistry | None = None,
        scheduler_params: Mapping[str, Mapping[str, Any]] | None = None,
        tracker_config: Mapping[str, str | None] | None = None,
    ) -> None:
        if not _SESSION_RE.match(name):  # the session is part of every handle
            raise InvalidInputError(
                f"invalid runner name {name!r}", hint="use letters, digits, '_', '.' and '-'"
            )
        self.name = name
        self._store = store
        self._owns_store = store is None
        self._registry = registry
        self._schedulers = SchedulerPool(lambda: self.registry, scheduler_params)
        self._tracker_config = tracker_config
        self._sync = StateSync(lambda: self.store, self.scheduler)

    def __enter__(self: _RunnerT) -> _RunnerT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Runner({self.name!r})"

    @property
    def registry(self) -> PluginRegistry:
        if self._registry is None:
            self._registry = get_registry()
        return self._registry

    @property
    def store(self) -> RunStore:
        if self._store is None:
            self._store = RunStore()
        return self._store

    # -- plumbing -----------------------------------------------------------
    def _api(self, api: str, scheduler: str | None = None) -> AbstractContextManager[ApiCall]:
        return observed(self.registry.fire_event, api, scheduler)

    def scheduler(self, name: str, session: str | None = None) -> Scheduler[Any]:
        """The scheduler plugin ``name`` for ``session`` (this runner's by default), made once.

        Raises:
            UnknownSchedulerError: listing the installed schedulers.
        """
        return self._schedulers.get(name, session or self.name)

    def _target(self, call: ApiCall, handle: str | AppHandle) -> tuple[AppHandle, Scheduler[Any]]:
        parsed = call.target(parse_handle(handle))
        return parsed, self.scheduler(parsed.scheduler, parsed.session)

    def close(self) -> None:
        """Close every scheduler this runner made, and the store it opened."""
        with self._api("close"), ExitStack() as stack:  # close both, even when one raises
            stack.callback(self._schedulers.close)
            if self._owns_store and self._store is not None:
                stack.callback(self._store.close)
