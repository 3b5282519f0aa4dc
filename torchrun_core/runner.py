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
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from pydantic import BaseModel

from torchrun_core import tracker_env
from torchrun_core.errors import (
    AppNotFoundError,
    BackendError,
    InvalidInputError,
    PluginError,
    TorchrunCoreError,
    UnknownSchedulerError,
    WaitTimeoutError,
)
from torchrun_core.hookspecs import RunnerEvent
from torchrun_core.plugins import PluginRegistry, get_registry
from torchrun_core.run_record import RunEvent, RunRecord
from torchrun_core.runstore import RunStore
from torchrun_core.scheduler import Scheduler, Stream
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo, is_secret_key, redact_env
from torchrun_core.specs.handle import AppHandle, parse_handle
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus

# wait() re-reads the state at least this often, in case a watcher misses an event.
MAX_WATCH_S = 5.0
_SESSION_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_LIVE_STATES = (AppState.UNSUBMITTED, AppState.SUBMITTED, AppState.PENDING, AppState.RUNNING)


class _Call:
    """What one API call learned about its target, for the event it fires."""

    __slots__ = ("app_id", "handle", "scheduler")

    def __init__(self, scheduler: str | None) -> None:
        self.scheduler = scheduler
        self.app_id: str | None = None
        self.handle: str | None = None

    def target(self, handle: AppHandle) -> AppHandle:
        self.scheduler, self.app_id, self.handle = handle.scheduler, handle.app_id, str(handle)
        return handle


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
        self._scheduler_params = {k: dict(v) for k, v in (scheduler_params or {}).items()}
        self._tracker_config = tracker_config
        self._schedulers: dict[tuple[str, str], Scheduler[Any]] = {}
        self._lock = threading.Lock()

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
    @contextmanager
    def _api(self, api: str, scheduler: str | None = None) -> Iterator[_Call]:
        """Time one public call and tell the event observers, error included."""
        call = _Call(scheduler)
        start = time.perf_counter()
        error: str | None = None
        try:
            yield call
        except BaseException as err:
            error = f"{type(err).__name__}: {err}"
            raise
        finally:
            duration = time.perf_counter() - start
            event = RunnerEvent(api, call.scheduler, call.app_id, duration, error, call.handle)
            self.registry.fire_event(event)

    @contextmanager
    def _guard(self, scheduler: str, api: str, handle: AppHandle | None = None) -> Iterator[None]:
        """Translate a scheduler's raw exception into a BackendError naming it.

        With ``handle``, the scheduler's AppNotFoundError becomes one naming
        the whole handle, with a hint.
        """
        try:
            yield
        except AppNotFoundError as err:
            if handle is None:
                raise
            raise _not_found(handle) from err
        except TorchrunCoreError:
            raise
        except Exception as err:
            raise BackendError(
                f"{scheduler} scheduler failed in {api}: {type(err).__name__}: {err}",
                hint="rerun with --debug for the traceback",
                scheduler=scheduler,
                api=api,
            ) from err

    def scheduler(self, name: str, session: str | None = None) -> Scheduler[Any]:
        """The scheduler plugin ``name`` for ``session`` (this runner's by default), made once.

        Raises:
            UnknownSchedulerError: listing the installed schedulers.
        """
        key = (name, session or self.name)
        with self._lock:
            found = self._schedulers.get(key)
            if found is None:
                found = self._schedulers[key] = self._create_scheduler(name, key[1])
        return found

    def _create_scheduler(self, name: str, session: str) -> Scheduler[Any]:
        factory = self.registry.scheduler_factory(name)
        with self._guard(name, "create"):
            made = factory(session=session, **self._scheduler_params.get(name, {}))
        if not isinstance(made, Scheduler):
            raise PluginError(
                f"scheduler {name!r} factory returned {type(made).__name__}, not a Scheduler",
                hint="the plugin is broken; report it to its author",
                scheduler=name,
            )
        return made

    def _target(self, call: _Call, handle: str | AppHandle) -> tuple[AppHandle, Scheduler[Any]]:
        parsed = call.target(parse_handle(handle))
        return parsed, self.scheduler(parsed.scheduler, parsed.session)

    def _refresh(self, handle: AppHandle, sched: Scheduler[Any]) -> AppStatus | None:
        """The scheduler's status of ``handle`` (None if unknown), recorded when it changed."""
        observed_at = time.time()
        with self._guard(handle.scheduler, "describe"):
            status = sched.describe(handle.app_id)
        if status is not None:
            status.handle = str(handle)
            self.store.record_state(str(handle), status.state, status.message, at=observed_at)
        return status

    def _found(self, handle: AppHandle, sched: Scheduler[Any]) -> AppStatus:
        status = self._refresh(handle, sched)
        if status is None:
            raise _not_found(handle)
        return status

    # -- submission ---------------------------------------------------------
    def dryrun(
        self,
        app: AppDef,
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
    ) -> AppDryRunInfo[Any]:
        """The scheduler-native request for ``app``, with the tracker env in every role."""
        with self._api("dryrun", scheduler):
            return self._dryrun(app, scheduler, cfg, parent_run_id)

    def _dryrun(
        self, app: AppDef, scheduler: str, cfg: Mapping[str, Any] | None, parent: str | None
    ) -> AppDryRunInfo[Any]:
        sched = self.scheduler(scheduler)
        env = tracker_env.tracker_env(
            scheduler,
            sched.session,
            tracker_env.resolve_parent_run_id(parent),
            tracker_env.resolve_trackers(self._tracker_config),
        )
        app = tracker_env.inject_env(app, env)
        with self._guard(scheduler, "dryrun"):
            return sched.dryrun(app, cfg)

    def schedule(self, dryrun_info: AppDryRunInfo[Any]) -> AppHandle:
        """Submit exactly ``dryrun_info`` and record the run; returns its handle."""
        with self._api("schedule", dryrun_info.scheduler) as call:
            return self._schedule(call, dryrun_info)

    def _schedule(self, call: _Call, info: AppDryRunInfo[Any]) -> AppHandle:
        sched = self.scheduler(info.scheduler, info.session or None)
        with self._guard(info.scheduler, "schedule"):
            app_id = sched.schedule(info)
        handle = call.target(AppHandle(info.scheduler, sched.session, app_id))
        self.store.add_run(
            str(handle),
            scheduler=handle.scheduler,
            session=handle.session,
            app_id=app_id,
            app_name=info.app.name,
            app_json=_redacted(info.app).model_dump_json(),
            cfg=_cfg_data(info.cfg),
            parent_run_id=tracker_env.parent_run_id_of(info.app),
        )
        return handle

    def run(
        self,
        app: AppDef,
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
    ) -> AppHandle:
        """Dry-run then schedule ``app``; returns its handle."""
        with self._api("run", scheduler) as call:
            return self._schedule(call, self._dryrun(app, scheduler, cfg, parent_run_id))

    def dryrun_component(
        self,
        component: str,
        component_args: Sequence[str] = (),
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
    ) -> AppDryRunInfo[Any]:
        """Build the app from ``component`` with ``component_args``, then dry-run it."""
        with self._api("dryrun_component", scheduler):
            app = self._build(component, component_args)
            return self._dryrun(app, scheduler, cfg, parent_run_id)

    def run_component(
        self,
        component: str,
        component_args: Sequence[str] = (),
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
    ) -> AppHandle:
        """Build the app from ``component`` with ``component_args``, then run it."""
        with self._api("run_component", scheduler) as call:
            app = self._build(component, component_args)
            return self._schedule(call, self._dryrun(app, scheduler, cfg, parent_run_id))

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
            return self._found(*self._target(call, handle))

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
                with self._guard(parsed.scheduler, "watch"):
                    watcher = stack.enter_context(sched.watch(parsed.app_id))
                while True:
                    status = self._found(parsed, sched)
                    if status.is_terminal or (target is not None and status.state >= target):
                        return status
                    left = MAX_WATCH_S if deadline is None else deadline - time.monotonic()
                    if left <= 0:
                        raise WaitTimeoutError(
                            f"app {parsed} is still {status.state} after {timeout:g} s",
                            hint=f"wait longer, or look at it: torchrun-core status {parsed}",
                            handle=str(parsed),
                            state=status.state,
                        )
                    with self._guard(parsed.scheduler, "watch"):
                        watcher.wait(min(left, MAX_WATCH_S))
        raise AssertionError("unreachable")  # pragma: no cover  (mypy: the loop returns)

    def describe(self, handle: str | AppHandle) -> RunRecord:
        """Everything known about the app: its record in the store and the scheduler's status.

        Raises:
            AppNotFoundError: neither the store nor the scheduler knows it.
        """
        with self._api("describe") as call:
            parsed = call.target(parse_handle(handle))
            known = self.store.state(str(parsed)) is not None
            try:
                sched = self.scheduler(parsed.scheduler, parsed.session)
            except UnknownSchedulerError:  # plugin uninstalled: the record still stands
                if not known:
                    raise
                status = None
            else:
                status = self._refresh(parsed, sched)
            record = self.store.get(str(parsed))
            if record is None:
                if status is None:
                    raise _not_found(parsed)
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
            role = role_name or self._first_role(parsed, sched)
            with self._guard(parsed.scheduler, "log_iter", parsed):
                return sched.log_iter(
                    parsed.app_id, role, k, regex, since, until, should_tail, streams, attempt
                )

    def _first_role(self, handle: AppHandle, sched: Scheduler[Any]) -> str:
        record = self.store.get(str(handle))
        if record is not None and record.app is not None:
            return record.app.roles[0].name
        status = self._found(handle, sched)
        if status.roles:
            return status.roles[0].role
        raise InvalidInputError(
            f"cannot tell the roles of app {handle}: it was not submitted from here",
            hint=f"name the role: torchrun-core log {handle}/ROLE",
            handle=str(handle),
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
            refreshed = self._refresh_live(scheduler, since)
            records = self.store.list(scheduler, states, since, limit)
            for record in records:
                record.status = refreshed.get(record.handle)
            return records

    def _refresh_live(self, scheduler: str | None, since: float | None) -> dict[str, AppStatus]:
        out: dict[str, AppStatus] = {}
        broken: set[str] = set()
        for record in self.store.list(scheduler, _LIVE_STATES, since):
            if record.scheduler in broken:
                continue
            handle = AppHandle(record.scheduler, record.session, record.app_id)
            try:
                status = self._refresh(handle, self.scheduler(handle.scheduler, handle.session))
            except TorchrunCoreError:
                if scheduler is not None:
                    raise
                broken.add(record.scheduler)  # one failure per scheduler is enough
                continue
            if status is not None:
                out[record.handle] = status
        return out

    def events(self, handle: str | AppHandle) -> builtins.list[RunEvent]:
        """The run's recorded state changes, oldest first.

        Raises:
            AppNotFoundError: the store has no such run.
        """
        with self._api("events") as call:
            parsed = call.target(parse_handle(handle))
            found = self.store.events(str(parsed))
            if not found:
                raise _not_found(parsed)
            return found

    # -- control ------------------------------------------------------------
    def cancel(self, handle: str | AppHandle) -> None:
        """Stop the app and record its new state. Cancelling a finished app does nothing.

        Raises:
            AppNotFoundError: the scheduler does not know the app.
        """
        with self._api("cancel") as call:
            parsed, sched = self._target(call, handle)
            with self._guard(parsed.scheduler, "cancel", parsed):
                sched.cancel(parsed.app_id)
            self._refresh(parsed, sched)

    def close(self) -> None:
        """Close every scheduler this runner made, and the store it opened."""
        with self._api("close"):
            with self._lock:
                made, self._schedulers = builtins.list(self._schedulers.values()), {}
            with ExitStack() as stack:  # close them all, even when one raises
                for sched in made:
                    stack.callback(self._close_one, sched)
                if self._owns_store and self._store is not None:
                    stack.callback(self._store.close)

    def _close_one(self, sched: Scheduler[Any]) -> None:
        with self._guard(sched.name, "close"):
            sched.close()


def _not_found(handle: AppHandle) -> AppNotFoundError:
    return AppNotFoundError(
        f"no app {handle}",
        hint="see the known apps with: torchrun-core list",
        handle=str(handle),
    )


def _redacted(app: AppDef) -> AppDef:
    """``app`` with secret-looking env values masked, for the store and ``describe``."""
    if not any(is_secret_key(k) for role in app.roles for k in role.env):
        return app
    roles = [role.model_copy(update={"env": redact_env(role.env)}) for role in app.roles]
    return app.model_copy(update={"roles": roles})


def _cfg_data(cfg: Any) -> dict[str, Any]:
    """A scheduler's options as JSON data, secret-looking values masked."""
    if isinstance(cfg, BaseModel):
        data: dict[str, Any] = cfg.model_dump(mode="json")
    elif isinstance(cfg, Mapping):
        data = {str(k): v for k, v in cfg.items()}
    else:
        data = {}
    return {k: ("***" if is_secret_key(k) and v else v) for k, v in data.items()}


def get_runner(name: str = "default", **kwargs: Any) -> Runner:
    """A :class:`Runner` for session ``name``; use it as a context manager to close it."""
    return Runner(name, **kwargs)


__all__ = ["MAX_WATCH_S", "Runner", "get_runner"]
