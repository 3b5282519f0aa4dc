"""The Runner: submit, observe and control apps on any scheduler, remembering every run.

A Runner is a session (its ``name``) over the installed scheduler plugins and
the run store. Every submitted app is recorded in the store with its spec,
options and state history, so that ``status``, ``wait``, ``log_lines``,
``cancel`` and ``list`` work from any process. Each public call fires the
observe-only ``torchrun_core_on_event`` hook, also when it fails.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from torchrun_core import tracker_env
from torchrun_core.errors import (
    AppNotFoundError,
    InvalidInputError,
    UnknownSchedulerError,
)
from torchrun_core.plugins import PluginRegistry, get_registry
from torchrun_core.run_record import RunEvent, RunRecord, stored_app_json, stored_cfg
from torchrun_core.runner_calls import (
    ApiCall,
    app_not_found,
    backend_errors,
    observed,
    wait_timeout,
)
from torchrun_core.runstore import RunStore
from torchrun_core.scheduler import Scheduler, Stream
from torchrun_core.scheduler_pool import SchedulerPool
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.handle import AppHandle, parse_handle
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus
from torchrun_core.state_sync import StateSync
from torchrun_core.workspace import build_workspace

# wait() re-reads the state at least this often, in case a watcher misses an event.
MAX_WATCH_S = 5.0
_SESSION_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


class Runner:
    """Runs apps on scheduler plugins and records them in a :class:`RunStore`.

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

    def __enter__(self) -> Runner:
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

    # -- submission ---------------------------------------------------------
    def dryrun(
        self,
        app: AppDef,
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        workspace: str | None = None,
    ) -> AppDryRunInfo[Any]:
        """The scheduler-native request for ``app``, with the tracker env in every role.

        With ``workspace`` (a directory), the scheduler's workspace builder
        first turns it into the roles' image (docker: builds it).
        """
        with self._api("dryrun", scheduler):
            return self._dryrun(app, scheduler, cfg, parent_run_id, workspace)

    def _dryrun(
        self,
        app: AppDef,
        scheduler: str,
        cfg: Mapping[str, Any] | None,
        parent: str | None,
        workspace: str | None = None,
    ) -> AppDryRunInfo[Any]:
        sched = self.scheduler(scheduler)
        if workspace is not None:
            app = build_workspace(self.registry, sched, app, workspace, cfg)
        env = tracker_env.tracker_env(
            scheduler,
            sched.session,
            tracker_env.resolve_parent_run_id(parent),
            tracker_env.resolve_trackers(self._tracker_config),
        )
        app = tracker_env.inject_env(app, env)
        with backend_errors(scheduler, "dryrun"):
            return sched.dryrun(app, cfg)

    def schedule(self, dryrun_info: AppDryRunInfo[Any]) -> AppHandle:
        """Submit exactly ``dryrun_info`` and record the run; returns its handle."""
        with self._api("schedule", dryrun_info.scheduler) as call:
            return self._schedule(call, dryrun_info)

    def _schedule(self, call: ApiCall, info: AppDryRunInfo[Any]) -> AppHandle:
        sched = self.scheduler(info.scheduler, info.session or None)
        with backend_errors(info.scheduler, "schedule"):
            app_id = sched.schedule(info)
        handle = call.target(AppHandle(info.scheduler, sched.session, app_id))
        self.store.add_run(
            str(handle),
            scheduler=handle.scheduler,
            session=handle.session,
            app_id=app_id,
            app_name=info.app.name,
            app_json=stored_app_json(info.app),
            cfg=stored_cfg(info.cfg),
            parent_run_id=tracker_env.parent_run_id_of(info.app),
        )
        return handle

    def run(
        self,
        app: AppDef,
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        workspace: str | None = None,
    ) -> AppHandle:
        """Dry-run then schedule ``app``; returns its handle."""
        with self._api("run", scheduler) as call:
            info = self._dryrun(app, scheduler, cfg, parent_run_id, workspace)
            return self._schedule(call, info)

    def dryrun_component(
        self,
        component: str,
        component_args: Sequence[str] = (),
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        workspace: str | None = None,
    ) -> AppDryRunInfo[Any]:
        """Build the app from ``component`` with ``component_args``, then dry-run it."""
        with self._api("dryrun_component", scheduler):
            app = self._build(component, component_args)
            return self._dryrun(app, scheduler, cfg, parent_run_id, workspace)

    def run_component(
        self,
        component: str,
        component_args: Sequence[str] = (),
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        workspace: str | None = None,
    ) -> AppHandle:
        """Build the app from ``component`` with ``component_args``, then run it."""
        with self._api("run_component", scheduler) as call:
            app = self._build(component, component_args)
            info = self._dryrun(app, scheduler, cfg, parent_run_id, workspace)
            return self._schedule(call, info)

    def _build(self, component: str, args: Sequence[str]) -> AppDef:
        from torchrun_core.component_loader import build_app

        return build_app(component, list(args), self.registry)

    # -- observation --------------------------------------------------------
    def status(self, handle: str | AppHandle) -> AppStatus:
        """The app's current status, recorded in the store when it changed.

        Raises:
            AppNotFoundError: the scheduler does not know the app.
        """
        with self._api("status") as call:
            return self._sync.found(*self._target(call, handle))

    def wait(
        self, handle: str | AppHandle, timeout: float | None = None, state: AppState | None = None
    ) -> AppStatus:
        """Block until the app reaches ``state`` (or a later one) or any terminal state.

        Woken by the scheduler's watcher, so it returns soon after the change.

        Raises:
            WaitTimeoutError: ``timeout`` seconds passed first.
            AppNotFoundError: the scheduler does not know the app.
        """
        with self._api("wait") as call:
            parsed, sched = self._target(call, handle)
            target = None if state is None else AppState(state)
            deadline = None if timeout is None else time.monotonic() + timeout
            with ExitStack() as stack:
                with backend_errors(parsed.scheduler, "watch"):
                    watcher = stack.enter_context(sched.watch(parsed.app_id))
                while True:
                    status = self._sync.found(parsed, sched)
                    if status.is_terminal or (target is not None and status.state >= target):
                        return status
                    left = MAX_WATCH_S if deadline is None else deadline - time.monotonic()
                    if left <= 0:
                        raise wait_timeout(parsed, status.state, timeout)
                    with backend_errors(parsed.scheduler, "watch"):
                        watcher.wait(min(left, MAX_WATCH_S))
        raise AssertionError("unreachable")  # pragma: no cover  (mypy: the loop returns)

    def describe(self, handle: str | AppHandle) -> RunRecord:
        """Everything known about the app: its record in the store and the scheduler's status.

        Raises:
            AppNotFoundError: neither the store nor the scheduler knows it.
        """
        with self._api("describe") as call:
            parsed = call.target(parse_handle(handle))
            try:
                status = self._sync.refresh(
                    parsed, self.scheduler(parsed.scheduler, parsed.session)
                )
            except UnknownSchedulerError:  # plugin uninstalled: a recorded run still stands
                if self.store.state(str(parsed)) is None:
                    raise
                status = None
            record = self.store.get(str(parsed))
            if record is None:
                if status is None:
                    raise app_not_found(parsed)
                record = RunRecord(
                    str(parsed), parsed.scheduler, parsed.session, parsed.app_id, "",
                    status.state, status.created_at,
                )  # fmt: skip
            record.status = status
            return record

    def log_lines(
        self,
        handle: str | AppHandle,
        role_name: str | None = None,
        k: int = 0,
        regex: str | None = None,
        since: float | None = None,
        until: float | None = None,
        should_tail: bool = False,
        streams: Stream | None = None,
        attempt: int | None = None,
    ) -> Iterator[str]:
        """Whole lines (with their newline) of replica ``k`` of a role; the first role by default.

        The scheduler's own iterator is returned, so that reading costs
        nothing here; the app, role and regex are checked before it is.

        Raises:
            AppNotFoundError: the app is unknown.
            InvalidInputError: the role, replica or regex is invalid.
        """
        with self._api("log_lines") as call:
            parsed, sched = self._target(call, handle)
            role = role_name or self._sync.first_role(parsed, sched)
            with backend_errors(parsed.scheduler, "log_iter", parsed):
                return sched.log_iter(
                    parsed.app_id, role, k, regex, since, until, should_tail, streams, attempt
                )

    def list(
        self,
        scheduler: str | None = None,
        states: Sequence[AppState] | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> builtins.list[RunRecord]:
        """Recorded runs, newest first, after refreshing every run not yet terminal.

        Runs whose scheduler is uninstalled or unreachable keep their recorded
        state when listing every scheduler; naming ``scheduler`` raises instead.
        """
        with self._api("list", scheduler):
            refreshed = self._sync.refresh_live(scheduler, since)
            records = self.store.list(scheduler, states, since, limit)
            for record in records:
                record.status = refreshed.get(record.handle)
            return records

    def events(self, handle: str | AppHandle) -> builtins.list[RunEvent]:
        """The run's recorded state changes, oldest first.

        Raises:
            AppNotFoundError: the store has no such run.
        """
        with self._api("events") as call:
            parsed = call.target(parse_handle(handle))
            found = self.store.events(str(parsed))
            if not found:
                raise app_not_found(parsed)
            return found

    # -- control ------------------------------------------------------------
    def cancel(self, handle: str | AppHandle) -> None:
        """Stop the app and record its new state. Cancelling a finished app does nothing.

        Raises:
            AppNotFoundError: the scheduler does not know the app.
        """
        with self._api("cancel") as call:
            parsed, sched = self._target(call, handle)
            self._sync.refresh(parsed, sched)  # so that an app that had ended stays so
            try:
                with backend_errors(parsed.scheduler, "cancel", parsed):
                    sched.cancel(parsed.app_id)
            except AppNotFoundError:
                if self._sync.found(parsed, sched).is_terminal:
                    return  # ended, and forgotten by its engine since: nothing to stop
                raise
            if self._sync.refresh(parsed, sched) is None:
                # The engine removed the app as it stopped it (docker removes the
                # containers): record the cancel, or a later status finds nothing.
                self.store.record_state(
                    str(parsed), AppState.CANCELLED, f"cancelled; {parsed.scheduler} removed it"
                )

    def close(self) -> None:
        """Close every scheduler this runner made, and the store it opened."""
        with self._api("close"), ExitStack() as stack:  # close both, even when one raises
            stack.callback(self._schedulers.close)
            if self._owns_store and self._store is not None:
                stack.callback(self._store.close)


def get_runner(name: str = "default", **kwargs: Any) -> Runner:
    """A :class:`Runner` for session ``name``; use it as a context manager to close it."""
    return Runner(name, **kwargs)


__all__ = ["MAX_WATCH_S", "Runner", "get_runner"]
