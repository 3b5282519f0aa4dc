"""An in-memory scheduler for unit tests of the Runner, registered as a real pluggy plugin.

Apps live in an :class:`InMemoryEngine` that the test drives: it moves apps
between states (``set_state``), appends log lines, and can make any scheduler
call raise (``fail``). Its watcher wakes on every change, like an
event-driven engine.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from torchrun_core.hookspecs import RunnerEvent, hookimpl
from torchrun_core.registry import PluginRegistry, load_plugins
from torchrun_core.scheduler import ListedApp, Scheduler, SchedulerOptions, Stream, Watcher
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.macros import Macros
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus, ReplicaStatus, RoleStatus

NAME = "inmemory"


class InMemoryOptions(SchedulerOptions):
    """Run options of the in-memory scheduler."""

    queue: str = Field(default="default", description="a queue name, recorded only")
    api_token: str = Field(default="", description="a secret-looking option")


@dataclass
class InMemoryApp:
    """One submitted app: its spec after macro expansion, state and logs."""

    app: AppDef
    state: AppState = AppState.SUBMITTED
    message: str = ""
    logs: dict[tuple[str, int], list[str]] = field(default_factory=dict)


class InMemoryEngine:
    """The apps every InMemoryScheduler of one test shares, and the test's controls."""

    def __init__(self) -> None:
        self.apps: dict[str, InMemoryApp] = {}
        self.calls: list[tuple[str, str]] = []  # (api, app_id)
        self.failures: dict[str, BaseException] = {}
        self.hooks: dict[str, Callable[[str], None]] = {}  # api -> called with the app id
        self.graces: list[tuple[str, float]] = []  # (app_id, grace_period) of each cancel given one
        self.closed = 0
        # True: app ids are fixed at dry run (like local, docker and kubernetes);
        # False: given by the submission (like slurm's job ids).
        self.ids_at_dryrun = False
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._version = 0

    def new_id(self, name: str) -> str:
        return f"{name}-{next(self._ids)}"

    def fail(self, api: str, error: BaseException) -> None:
        """Make scheduler call ``api`` (e.g. ``"describe"``) raise ``error`` from now on."""
        self.failures[api] = error

    def check(self, api: str, app_id: str = "") -> None:
        self.calls.append((api, app_id))
        if api in self.hooks:
            self.hooks[api](app_id)
        if api in self.failures:
            raise self.failures[api]

    def set_state(self, app_id: str, state: AppState, message: str = "") -> None:
        """Move an app to ``state`` and wake its watchers."""
        with self._changed:
            self.apps[app_id].state = state
            self.apps[app_id].message = message
            self._version += 1
            self._changed.notify_all()

    def add_log(self, app_id: str, role: str, k: int, *lines: str) -> None:
        self.apps[app_id].logs.setdefault((role, k), []).extend(lines)

    def version(self) -> int:
        with self._changed:
            return self._version

    def wait_change(self, seen: int, timeout: float) -> int:
        """Block until the version moves past ``seen`` or ``timeout``; returns the version."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != seen, timeout)
            return self._version


class _EngineWatcher(Watcher):
    """Wakes as soon as the engine changes, never missing a change made after creation."""

    def __init__(self, engine: InMemoryEngine) -> None:
        super().__init__()
        self._engine = engine
        self._seen = engine.version()

    def wait(self, timeout: float) -> None:
        self._seen = self._engine.wait_change(self._seen, timeout)


class InMemoryScheduler(Scheduler[InMemoryOptions]):
    """Keeps apps in an :class:`InMemoryEngine`; nothing runs."""

    Options = InMemoryOptions

    def __init__(self, session: str, engine: InMemoryEngine) -> None:
        super().__init__(NAME, session)
        self.engine = engine

    def _dryrun(self, app: AppDef, options: InMemoryOptions) -> AppDryRunInfo[Any]:
        self.engine.check("dryrun")
        app_id = self.engine.new_id(app.name) if self.engine.ids_at_dryrun else None
        return AppDryRunInfo(
            request=app, app=app, scheduler=self.name, session=self.session, cfg=options,
            app_id=app_id,
        )  # fmt: skip

    def _schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str:
        self.engine.check("schedule")
        app_id = dryrun_info.app_id or self.engine.new_id(dryrun_info.app.name)
        macros = Macros(app_id=app_id)
        roles = [
            r.model_copy(update={"env": macros.apply_env(r.env)}) for r in dryrun_info.app.roles
        ]
        self.engine.apps[app_id] = InMemoryApp(dryrun_info.app.model_copy(update={"roles": roles}))
        self.engine.check("scheduled", app_id)  # launched, not yet answered: a crash point
        return app_id

    def _describe(self, app_id: str) -> AppStatus | None:
        self.engine.check("describe", app_id)
        found = self.engine.apps.get(app_id)
        if found is None:
            return None
        roles = [
            RoleStatus(
                role=r.name,
                replicas=[
                    ReplicaStatus(id=i, role=r.name, state=found.state)
                    for i in range(r.num_replicas)
                ],
            )
            for r in found.app.roles
        ]
        return AppStatus(state=found.state, message=found.message, roles=roles)

    def _cancel(self, app_id: str) -> None:
        self.engine.check("cancel", app_id)
        self.engine.set_state(app_id, AppState.CANCELLED, "cancelled by user")

    def _cancel_with_grace(self, app_id: str, grace_period: float) -> None:
        self.engine.graces.append((app_id, grace_period))
        self._cancel(app_id)

    def _delete(self, app_id: str) -> None:
        self.engine.check("delete", app_id)
        del self.engine.apps[app_id]

    def _list(self) -> list[ListedApp]:
        self.engine.check("list")
        return [ListedApp(i, a.state, a.app.name) for i, a in self.engine.apps.items()]

    def _log_iter(
        self,
        app_id: str,
        role_name: str,
        k: int,
        since: float | None,
        until: float | None,
        should_tail: bool,
        streams: Stream,
        attempt: int | None,
    ) -> Iterator[str]:
        self.engine.check("log_iter", app_id)
        return iter(self.engine.apps[app_id].logs.get((role_name, k), []))

    @contextmanager
    def watch(self, app_id: str) -> Iterator[Watcher]:
        self.engine.check("watch", app_id)
        yield _EngineWatcher(self.engine)

    def close(self) -> None:
        self.engine.closed += 1
        self.engine.check("close")


class InMemoryPlugin:
    """The pluggy plugin providing the ``inmemory`` scheduler over one engine."""

    def __init__(self, engine: InMemoryEngine) -> None:
        self.engine = engine

    @hookimpl
    def torchrun_core_schedulers(self) -> dict[str, Any]:
        return {NAME: self.make}

    def make(self, session: str) -> InMemoryScheduler:
        return InMemoryScheduler(session, self.engine)


def make_registry(engine: InMemoryEngine, *plugins: object) -> PluginRegistry:
    """Every installed plugin, plus the in-memory scheduler and ``plugins``."""
    registry = load_plugins()
    registry.register(InMemoryPlugin(engine), name=NAME)
    for index, plugin in enumerate(plugins):
        registry.register(plugin, name=f"test-plugin-{index}")
    return registry


class Observer:
    """A real plugin object implementing the observe-only event hook; keeps every event."""

    def __init__(self) -> None:
        self.events: list[RunnerEvent] = []

    @hookimpl
    def torchrun_core_on_event(self, event: RunnerEvent) -> None:
        self.events.append(event)

    def apis(self) -> list[str]:
        return [e.api for e in self.events]


def two_role_app() -> AppDef:
    return AppDef(
        name="train",
        roles=[
            Role(name="trainer", entrypoint="python", num_replicas=2, env={"A": "1"}),
            Role(name="reader", entrypoint="cat", env={"API_TOKEN": "hunter2"}),
        ],
    )
