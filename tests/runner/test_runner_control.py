"""Runner control over the in-memory scheduler: wait's typed error, cancel_many, delete."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from inmemory_scheduler import InMemoryEngine, Observer, two_role_app

from torchrun_core.errors import (
    AppError,
    AppNotFoundError,
    BackendError,
    InvalidInputError,
    InvalidOptionError,
    MalformedHandleError,
    UnexpectedStateError,
    UnknownSchedulerError,
)
from torchrun_core.runner import Runner
from torchrun_core.scheduler import ListedApp, Scheduler, SchedulerOptions, Stream
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus, ReplicaStatus, RoleStatus

S = AppState


def started(runner: Runner, engine: InMemoryEngine, count: int, name: str = "train") -> list[str]:
    """``count`` RUNNING apps' handles."""
    handles = []
    for _ in range(count):
        handle = runner.run(two_role_app().model_copy(update={"name": name}), "inmemory")
        engine.set_state(handle.app_id, S.RUNNING)
        runner.status(handle)  # recorded RUNNING
        handles.append(str(handle))
    return handles


# -- wait ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ended", "target"),
    [
        (S.FAILED, S.RUNNING),
        (S.CANCELLED, S.RUNNING),
        (S.FAILED, S.SUCCEEDED),
        (S.SUCCEEDED, S.FAILED),
    ],
)
def test_wait_raises_when_the_app_ends_without_reaching_the_state(
    runner: Runner, engine: InMemoryEngine, ended: AppState, target: AppState
) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    engine.set_state(handle.app_id, ended, "boom")
    with pytest.raises(UnexpectedStateError) as info:
        runner.wait(handle, timeout=30, state=target)
    assert isinstance(info.value, AppError) and info.value.exit_code == 1
    err: Any = info.value  # the context attributes
    assert (err.handle, err.state, err.target) == (str(handle), ended, target)
    assert err.status.state is ended
    assert str(err) == f"app {handle} ended {ended} before reaching {target} (boom)"
    assert err.hint == f"see the logs: torchrun-core log {handle}"


def test_wait_names_the_failed_replica(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    engine.set_state(handle.app_id, S.FAILED)
    status = AppStatus(
        state=S.FAILED,
        roles=[
            RoleStatus(
                role="trainer",
                replicas=[ReplicaStatus(id=1, role="trainer", state=S.FAILED, exit_code=3)],
            )
        ],
    )
    sched = runner.scheduler("inmemory")
    sched._describe = lambda app_id: status  # type: ignore[method-assign]
    with pytest.raises(UnexpectedStateError, match=r"RUNNING: trainer/1 exited with 3$"):
        runner.wait(handle, timeout=30, state=S.RUNNING)


def test_wait_counts_a_success_as_having_run(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    engine.set_state(handle.app_id, S.SUCCEEDED)
    assert runner.wait(handle, timeout=30, state=S.RUNNING).state is S.SUCCEEDED
    assert runner.wait(handle, timeout=30, state=S.SUCCEEDED).state is S.SUCCEEDED


def test_wait_for_a_failure_returns_it(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    engine.set_state(handle.app_id, S.CANCELLED)
    assert runner.wait(handle, timeout=30, state=S.CANCELLED).state is S.CANCELLED
    assert runner.wait(handle, timeout=30).state is S.CANCELLED


# -- cancel ----------------------------------------------------------------------------
def test_cancel_passes_the_grace_period_only_when_given(
    runner: Runner, engine: InMemoryEngine
) -> None:
    first, second = started(runner, engine, 2)
    runner.cancel(first)
    runner.cancel(second, grace_period=2.5)
    assert engine.graces == [(AppHandle.parse(second).app_id, 2.5)]
    assert runner.status(first).state is runner.status(second).state is S.CANCELLED


@pytest.mark.parametrize("grace", [-1.0, float("nan"), float("inf")])
def test_a_bad_grace_period_is_bad_input(
    runner: Runner, engine: InMemoryEngine, grace: float
) -> None:
    [handle] = started(runner, engine, 1)
    for call in (
        lambda: runner.cancel(handle, grace_period=grace),
        lambda: runner.cancel_many([handle], grace_period=grace),
        lambda: runner.delete(handle, grace_period=grace),
    ):
        with pytest.raises(InvalidInputError, match="grace period"):
            call()
    assert runner.status(handle).state is S.RUNNING


class LegacyScheduler(Scheduler[SchedulerOptions]):
    """A plugin written before grace periods: it implements only ``_cancel``."""

    def __init__(self) -> None:
        super().__init__("legacy", "s")
        self.state = S.RUNNING
        self.cancels = 0

    def _dryrun(self, app: AppDef, options: SchedulerOptions) -> AppDryRunInfo[Any]:
        raise NotImplementedError

    def _schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str:
        raise NotImplementedError

    def _describe(self, app_id: str) -> AppStatus | None:
        return AppStatus(state=self.state) if app_id == "a-1" else None

    def _cancel(self, app_id: str) -> None:
        self.cancels += 1
        self.state = S.CANCELLED

    def _list(self) -> list[ListedApp]:
        return []

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
        return iter(())


def test_a_legacy_plugin_cancels_and_deletes_with_the_base_defaults() -> None:
    sched = LegacyScheduler()
    sched.cancel("a-1", grace_period=3)  # the grace period is ignored, not an error
    assert (sched.cancels, sched.state) == (1, S.CANCELLED)
    sched.delete("a-1", grace_period=1)  # ended: no second cancel; _delete removes nothing
    assert sched.cancels == 1
    with pytest.raises(AppNotFoundError):
        sched.delete("nope")


# -- cancel_many -------------------------------------------------------------------------
def test_cancel_many_reports_each_handle_and_goes_on_after_failures(
    runner: Runner, engine: InMemoryEngine
) -> None:
    first, second = started(runner, engine, 2)
    outcomes = runner.cancel_many([first, "inmemory://test/nope-9", "bad handle", second])
    assert [o.handle for o in outcomes] == [first, "inmemory://test/nope-9", "bad handle", second]
    assert [o.ok for o in outcomes] == [True, False, False, True]
    assert isinstance(outcomes[1].error, AppNotFoundError)
    assert isinstance(outcomes[2].error, MalformedHandleError)
    assert outcomes[0].state is outcomes[3].state is S.CANCELLED
    assert runner.status(second).state is S.CANCELLED


def test_cancel_many_by_filter_selects_only_live_runs(
    runner: Runner, engine: InMemoryEngine, observer: Observer
) -> None:
    live = started(runner, engine, 2, name="sweep")
    [other_name] = started(runner, engine, 1, name="eval")
    [done] = started(runner, engine, 1, name="sweep")
    engine.set_state(AppHandle.parse(done).app_id, S.SUCCEEDED)
    runner.status(done)
    outcomes = runner.cancel_many(scheduler="inmemory", name="sweep")
    assert sorted(o.handle for o in outcomes) == sorted(live)
    assert all(o.ok and o.state is S.CANCELLED for o in outcomes)
    assert runner.status(other_name).state is S.RUNNING
    assert runner.status(done).state is S.SUCCEEDED
    assert observer.apis().count("cancel") == 2 and "cancel_many" in observer.apis()
    # Terminal states select nothing; the live ones intersect.
    assert runner.cancel_many(states=[S.SUCCEEDED, S.FAILED]) == []
    [outcome] = runner.cancel_many(states=[S.RUNNING, S.SUCCEEDED])
    assert outcome.handle == other_name and outcome.state is S.CANCELLED


def test_cancel_many_refuses_an_empty_filter_or_handles_with_a_filter(
    runner: Runner, engine: InMemoryEngine
) -> None:
    [handle] = started(runner, engine, 1)
    with pytest.raises(InvalidInputError, match="every live run") as info:
        runner.cancel_many()
    assert info.value.hint and "every=True" in info.value.hint
    with pytest.raises(InvalidInputError, match="not both"):
        runner.cancel_many([handle], scheduler="inmemory")
    with pytest.raises(InvalidInputError, match="max_workers"):
        runner.cancel_many([handle], max_workers=0)
    assert runner.status(handle).state is S.RUNNING
    [outcome] = runner.cancel_many(every=True)
    assert outcome.handle == handle and outcome.state is S.CANCELLED


def test_cancel_many_runs_in_parallel_with_bounded_workers(
    runner: Runner, engine: InMemoryEngine
) -> None:
    handles = started(runner, engine, 6)
    barrier = threading.Barrier(2, timeout=30)
    lock = threading.Lock()
    running = [0, 0]  # now, most at once

    def cancel_hook(app_id: str) -> None:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        try:
            barrier.wait()  # two cancels must be under way together to pass
        finally:
            with lock:
                running[0] -= 1

    engine.hooks["cancel"] = cancel_hook
    outcomes = runner.cancel_many(handles, max_workers=2)
    assert [o.error for o in outcomes] == [None] * 6
    assert running[1] == 2


def test_cancel_many_of_nothing_matching(runner: Runner) -> None:
    assert runner.cancel_many(scheduler="inmemory") == []


# -- delete ------------------------------------------------------------------------------
def test_delete_stops_cleans_and_forgets_a_running_app(
    runner: Runner, engine: InMemoryEngine, observer: Observer
) -> None:
    [handle] = started(runner, engine, 1)
    app_id = AppHandle.parse(handle).app_id
    outcome = runner.delete(handle, grace_period=0)
    assert outcome.ok and outcome.note == "" and outcome.handle == handle
    assert ("cancel", app_id) in engine.calls and ("delete", app_id) in engine.calls
    assert engine.graces == [(app_id, 0)]
    assert app_id not in engine.apps
    assert runner.store.get(handle) is None
    with pytest.raises(AppNotFoundError):
        runner.status(handle)
    with pytest.raises(AppNotFoundError):
        runner.delete(handle)  # gone everywhere now
    assert observer.events[-1].api == "delete"


def test_delete_of_an_app_its_engine_forgot_removes_the_record(
    runner: Runner, engine: InMemoryEngine
) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    engine.set_state(handle.app_id, S.SUCCEEDED)
    runner.status(handle)
    del engine.apps[handle.app_id]
    assert runner.delete(handle).ok
    assert runner.store.get(str(handle)) is None


def test_delete_of_an_unknown_app_is_not_found(runner: Runner) -> None:
    with pytest.raises(AppNotFoundError) as info:
        runner.delete("inmemory://test/nope-1")
    assert info.value.hint
    with pytest.raises(MalformedHandleError):
        runner.delete("nope")


def test_delete_with_the_plugin_uninstalled_needs_force(runner: Runner) -> None:
    handle = "gone://test/app-1"
    runner.store.add_run(
        handle, scheduler="gone", session="test", app_id="app-1", app_name="app", app_json=None
    )
    with pytest.raises(UnknownSchedulerError) as info:
        runner.delete(handle)
    assert info.value.hint == f"to forget its record anyway: torchrun-core delete --force {handle}"
    assert runner.store.get(handle) is not None
    outcome = runner.delete(handle, force=True)
    assert outcome.ok and "forgot the record only" in outcome.note and "gone" in outcome.note
    assert runner.store.get(handle) is None
    with pytest.raises(UnknownSchedulerError):  # no record: nothing to force
        runner.delete(handle, force=True)


def test_delete_when_the_engine_fails_needs_force(runner: Runner, engine: InMemoryEngine) -> None:
    [handle] = started(runner, engine, 1)
    engine.fail("describe", ConnectionError("engine down"))
    with pytest.raises(BackendError, match="engine down"):
        runner.delete(handle)
    assert runner.store.get(handle) is not None
    outcome = runner.delete(handle, force=True)
    assert "engine down" in outcome.note
    assert runner.store.get(handle) is None


def test_delete_when_the_engine_cannot_be_reached_with_its_settings_needs_force(
    runner: Runner, engine: InMemoryEngine
) -> None:
    # e.g. the SSH identity file of a slurm run was removed since
    [handle] = started(runner, engine, 1)
    engine.fail("describe", InvalidOptionError("identity file /k is missing", option="x"))
    with pytest.raises(InvalidOptionError, match="identity file"):
        runner.delete(handle)
    assert runner.store.get(handle) is not None
    outcome = runner.delete(handle, force=True)
    assert "identity file" in outcome.note
    assert runner.store.get(handle) is None
