"""Runner errors and the event hook, over the in-memory scheduler."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from inmemory_scheduler import InMemoryEngine, Observer, make_registry, two_role_app

from torchrun_core.errors import (
    AppNotFoundError,
    BackendError,
    MalformedHandleError,
    UnknownSchedulerError,
)
from torchrun_core.hookspecs import RunnerEvent, hookimpl
from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState

S = AppState


# -- errors ---------------------------------------------------------------------------
def test_unknown_and_malformed_handles(runner: Runner) -> None:
    calls: list[Callable[[str], object]] = [
        runner.status,
        runner.wait,
        runner.cancel,
        runner.describe,
        runner.events,
        runner.log_lines,
    ]
    for call in calls:
        with pytest.raises(AppNotFoundError) as info:
            call("inmemory://test/nope-1")
        assert info.value.hint and "inmemory://test/nope-1" in str(info.value)
        with pytest.raises(MalformedHandleError) as bad:
            call("not a handle")
        assert "scheduler://session/app_id" in (bad.value.hint or "")


def test_unknown_scheduler_lists_the_installed_ones(runner: Runner) -> None:
    with pytest.raises(UnknownSchedulerError) as info:
        runner.dryrun(two_role_app(), "nosuch")
    assert "inmemory" in (info.value.hint or "")
    with pytest.raises(UnknownSchedulerError):
        runner.status("nosuch://test/a-1")


@pytest.mark.parametrize("api", ["dryrun", "schedule", "describe", "cancel", "log_iter", "watch"])
def test_raw_scheduler_exceptions_become_backend_errors(
    runner: Runner, engine: InMemoryEngine, api: str
) -> None:
    handle = runner.run(two_role_app(), "inmemory") if api != "dryrun" else None
    boom = RuntimeError("socket closed")
    engine.fail(api, boom)
    calls: dict[str, Callable[[], object]] = {
        "dryrun": lambda: runner.dryrun(two_role_app(), "inmemory"),
        "schedule": lambda: runner.run(two_role_app(), "inmemory"),
        "describe": lambda: runner.status(str(handle)),
        "cancel": lambda: runner.cancel(str(handle)),
        "log_iter": lambda: runner.log_lines(str(handle)),
        "watch": lambda: runner.wait(str(handle), timeout=1),
    }
    with pytest.raises(BackendError) as info:
        calls[api]()
    assert info.value.__cause__ is boom
    assert "inmemory" in str(info.value) and api in str(info.value)
    assert info.value.scheduler == "inmemory"  # type: ignore[attr-defined]


# -- the event hook -------------------------------------------------------------------
def test_every_api_call_fires_one_event(
    runner: Runner, engine: InMemoryEngine, observer: Observer
) -> None:
    info = runner.dryrun(two_role_app(), "inmemory")
    handle = runner.schedule(info)
    engine.set_state(handle.app_id, S.SUCCEEDED)
    runner.status(handle)
    runner.wait(handle)
    runner.describe(handle)
    runner.log_lines(handle)
    runner.list()
    runner.events(handle)
    runner.cancel(handle)
    runner.run(two_role_app(), "inmemory")
    runner.close()
    assert observer.apis() == [
        "dryrun", "schedule", "status", "wait", "describe", "log_lines", "list", "events",
        "cancel", "run", "close",
    ]  # fmt: skip
    by_api = {e.api: e for e in observer.events}
    assert by_api["dryrun"].scheduler == "inmemory" and by_api["dryrun"].app_id is None
    for api in ("schedule", "status", "wait", "describe", "log_lines", "events", "cancel"):
        event = by_api[api]
        assert (event.scheduler, event.app_id, event.handle) == (
            "inmemory",
            handle.app_id,
            str(handle),
        )
        assert event.error is None and event.duration_s >= 0


def test_a_failed_call_fires_its_event_with_the_error(runner: Runner, observer: Observer) -> None:
    with pytest.raises(AppNotFoundError):
        runner.status("inmemory://test/nope-1")
    [event] = observer.events
    assert (event.api, event.scheduler, event.app_id) == ("status", "inmemory", "nope-1")
    assert event.error is not None and "AppNotFoundError" in event.error


def test_a_broken_observer_never_breaks_a_run(engine: InMemoryEngine) -> None:
    class Broken:
        @hookimpl
        def torchrun_core_on_event(self, event: RunnerEvent) -> None:
            raise RuntimeError("observer bug")

    runner = Runner("test", registry=make_registry(engine, Broken()))
    handle = runner.run(two_role_app(), "inmemory")
    assert runner.status(handle).state is S.SUBMITTED
