"""The Runner over the in-memory scheduler: submission, tracker env, state, wait, list."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from inmemory_scheduler import InMemoryEngine, Observer, make_registry, two_role_app

from torchrun_core.errors import (
    AppNotFoundError,
    BackendError,
    InvalidInputError,
    InvalidOptionError,
    UnexpectedStateError,
    WaitTimeoutError,
)
from torchrun_core.runner import Runner, get_runner
from torchrun_core.runstore import RunStore
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState

S = AppState
HANDLE_ENV = "TORCHRUN_CORE_APP_HANDLE"
PARENT_ENV = "TORCHRUN_CORE_PARENT_RUN_ID"


# -- dryrun and tracker env -------------------------------------------------------
def test_dryrun_injects_the_tracker_env_into_every_role(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHRUN_CORE_TRACKERS", "mlflow,wandb")
    monkeypatch.setenv("TORCHRUN_CORE_TRACKER_MLFLOW_CONFIG", "http://mlflow:5000")
    info = runner.dryrun(two_role_app(), "inmemory", parent_run_id="local://x/parent-1")
    for role in info.app.roles:
        assert role.env[HANDLE_ENV] == "inmemory://test/${app_id}"
        assert role.env[PARENT_ENV] == "local://x/parent-1"
        assert role.env["TORCHRUN_CORE_TRACKERS"] == "mlflow,wandb"
        assert role.env["TORCHRUN_CORE_TRACKER_MLFLOW_CONFIG"] == "http://mlflow:5000"
        assert "TORCHRUN_CORE_TRACKER_WANDB_CONFIG" not in role.env
    assert info.app.roles[0].env["A"] == "1"  # the role's own env is kept
    assert info.app.roles[0].num_replicas == 2
    assert runner.store.list() == []  # a dry run records nothing


def test_dryrun_with_trackers_off_and_no_parent_sets_only_the_handle(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORCHRUN_CORE_TRACKERS", "")  # off: no default file tracker
    info = runner.dryrun(two_role_app(), "inmemory")
    env = info.app.roles[0].env
    assert env[HANDLE_ENV] == "inmemory://test/${app_id}"
    assert not any(k in env for k in (PARENT_ENV, "TORCHRUN_CORE_TRACKERS"))


def test_dryrun_with_no_tracker_configured_injects_the_file_tracker(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TORCHRUN_CORE_TRACKERS", raising=False)
    env = runner.dryrun(two_role_app(), "inmemory").app.roles[1].env
    assert env["TORCHRUN_CORE_TRACKERS"] == "file"
    assert env["TORCHRUN_CORE_TRACKER_FILE_CONFIG"].endswith("tracking")


def test_parent_run_id_comes_from_the_env(runner: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARENT_ENV, "slurm://s/pipeline-9")
    info = runner.dryrun(two_role_app(), "inmemory")
    assert info.app.roles[1].env[PARENT_ENV] == "slurm://s/pipeline-9"
    # Inside a job, the job itself is the parent of what it launches (its own
    # PARENT_RUN_ID names its parent, the grandparent of the new app).
    monkeypatch.setenv(HANDLE_ENV, "local://default/sweep-3")
    info = runner.dryrun(two_role_app(), "inmemory")
    assert info.app.roles[1].env[PARENT_ENV] == "local://default/sweep-3"
    info = runner.dryrun(two_role_app(), "inmemory", parent_run_id="explicit")
    assert info.app.roles[1].env[PARENT_ENV] == "explicit"


def test_explicit_tracker_config(engine: InMemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHRUN_CORE_TRACKER_TB_CONFIG", "/tmp/tb")
    runner = Runner(
        "test",
        registry=make_registry(engine),
        tracker_config={"my-fs": "/data/runs", "tb": None},
    )
    env = runner.dryrun(two_role_app(), "inmemory").app.roles[0].env
    assert env["TORCHRUN_CORE_TRACKERS"] == "my-fs,tb"
    assert env["TORCHRUN_CORE_TRACKER_MY_FS_CONFIG"] == "/data/runs"
    assert env["TORCHRUN_CORE_TRACKER_TB_CONFIG"] == "/tmp/tb"  # None: from the env
    bad = Runner("test", registry=make_registry(engine), tracker_config={"a,b": "x"})
    with pytest.raises(InvalidInputError, match="tracker name"):
        bad.dryrun(two_role_app(), "inmemory")


def test_bad_options_and_runner_names_are_input_errors(runner: Runner) -> None:
    with pytest.raises(InvalidOptionError, match="nope"):
        runner.dryrun(two_role_app(), "inmemory", cfg={"nope": 1})
    with pytest.raises(InvalidInputError, match="runner name"):
        Runner("has space")


# -- schedule, status, events -----------------------------------------------------
def test_schedule_records_the_run_and_a_submitted_event(
    runner: Runner, engine: InMemoryEngine
) -> None:
    info = runner.dryrun(two_role_app(), "inmemory", cfg={"queue": "gpu", "api_token": "s3"})
    handle = runner.schedule(info)
    assert isinstance(handle, AppHandle)
    assert (handle.scheduler, handle.session) == ("inmemory", "test")
    # the scheduler expanded the macro into the job's real handle
    assert engine.apps[handle.app_id].app.roles[0].env[HANDLE_ENV] == str(handle)
    record = runner.store.get(str(handle))
    assert record is not None
    assert record.state is S.SUBMITTED and record.app_name == "train"
    assert record.cfg == {"queue": "gpu", "api_token": "***"}  # secrets masked
    assert record.app is not None and record.app.roles[1].env["API_TOKEN"] == "***"
    assert [e.state for e in runner.events(handle)] == [S.SUBMITTED]


def test_run_records_the_parent(runner: Runner) -> None:
    handle = runner.run(two_role_app(), "inmemory", parent_run_id="local://x/p-1")
    assert runner.describe(handle).parent_run_id == "local://x/p-1"


def test_status_records_each_transition_once(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    assert runner.status(handle).state is S.SUBMITTED
    engine.set_state(handle.app_id, S.RUNNING)
    for _ in range(3):
        status = runner.status(str(handle))
        assert status.state is S.RUNNING and status.handle == str(handle)
    engine.set_state(handle.app_id, S.FAILED, "trainer/0 exited 3")
    runner.status(handle)
    events = runner.events(handle)
    assert [e.state for e in events] == [S.SUBMITTED, S.RUNNING, S.FAILED]
    assert events[-1].message == "trainer/0 exited 3"
    assert runner.describe(handle).state is S.FAILED


# -- wait ------------------------------------------------------------------------
def later(delay: float, fn: object, *args: object) -> threading.Timer:
    timer = threading.Timer(delay, fn, args)  # type: ignore[arg-type]
    timer.start()
    return timer


def test_wait_returns_when_the_app_ends(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    later(0.05, engine.set_state, handle.app_id, S.RUNNING)
    later(0.1, engine.set_state, handle.app_id, S.SUCCEEDED)
    status = runner.wait(handle, timeout=30)
    assert status.state is S.SUCCEEDED
    assert [e.state for e in runner.events(handle)][-1] is S.SUCCEEDED


def test_wait_returns_at_the_target_state_or_later(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    later(0.05, engine.set_state, handle.app_id, S.RUNNING)
    assert runner.wait(handle, timeout=30, state=S.PENDING).state is S.RUNNING
    assert runner.wait(handle, timeout=30, state=S.RUNNING).state is S.RUNNING
    engine.set_state(handle.app_id, S.FAILED)
    # ending before the awaited state: a typed error (tests/runner/test_runner_control.py)
    with pytest.raises(UnexpectedStateError):
        runner.wait(handle, timeout=30, state=S.SUCCEEDED)


def test_wait_times_out(runner: Runner, observer: Observer) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    with pytest.raises(WaitTimeoutError) as info:
        runner.wait(handle, timeout=0.1)
    assert info.value.handle == str(handle)  # type: ignore[attr-defined]
    assert info.value.hint
    assert observer.events[-1].api == "wait"
    assert "WaitTimeoutError" in (observer.events[-1].error or "")


# -- cancel, describe, logs ----------------------------------------------------------
def test_cancel_is_idempotent_and_recorded(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    runner.cancel(handle)
    runner.cancel(handle)
    assert runner.status(handle).state is S.CANCELLED
    assert [e.state for e in runner.events(handle)] == [S.SUBMITTED, S.CANCELLED]
    assert [c for c in engine.calls if c[0] == "cancel"] == [("cancel", handle.app_id)]


def test_describe_returns_the_record_and_status(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory", cfg={"queue": "q1"})
    engine.set_state(handle.app_id, S.RUNNING)
    record = runner.describe(handle)
    assert record.handle == str(handle) and record.state is S.RUNNING
    assert record.app is not None and record.app.role_names == ["trainer", "reader"]
    assert record.cfg["queue"] == "q1"
    assert record.status is not None and record.status.state is S.RUNNING
    assert record.to_dict()["status"]["state"] == "RUNNING"


def test_describe_an_app_only_the_scheduler_knows(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    runner.store.delete(str(handle))
    record = runner.describe(handle)
    assert record.app is None and record.status is not None
    assert record.state is S.SUBMITTED
    with pytest.raises(AppNotFoundError):
        runner.events(handle)  # the store has no history of it


def test_an_ended_app_its_engine_forgot_keeps_its_recorded_state(
    runner: Runner, engine: InMemoryEngine
) -> None:
    done = runner.run(two_role_app(), "inmemory")
    engine.set_state(done.app_id, S.SUCCEEDED)
    runner.status(done)
    live = runner.run(two_role_app(), "inmemory")
    del engine.apps[done.app_id], engine.apps[live.app_id]  # e.g. garbage-collected
    status = runner.status(done)
    assert status.state is S.SUCCEEDED and "no longer knows" in status.message
    assert runner.wait(done, timeout=5).state is S.SUCCEEDED
    runner.cancel(done)  # nothing to stop
    assert runner.describe(done).app is not None
    for call in (runner.status, runner.wait, runner.cancel):
        with pytest.raises(AppNotFoundError, match="no longer knows it"):
            call(live)


def test_log_lines_defaults_to_the_first_role(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    engine.add_log(handle.app_id, "trainer", 0, "a\n", "b\n")
    engine.add_log(handle.app_id, "trainer", 1, "other\n")
    engine.add_log(handle.app_id, "reader", 0, "r\n")
    assert list(runner.log_lines(handle)) == ["a\n", "b\n"]
    assert list(runner.log_lines(handle, "trainer", k=1)) == ["other\n"]
    assert list(runner.log_lines(handle, "reader")) == ["r\n"]
    assert list(runner.log_lines(handle, regex="b")) == ["b\n"]
    with pytest.raises(InvalidInputError, match="regex"):
        runner.log_lines(handle, regex="(")
    runner.store.delete(str(handle))  # not in the store: the scheduler's roles are used
    assert list(runner.log_lines(handle)) == ["a\n", "b\n"]


# -- list ---------------------------------------------------------------------------
def test_list_filters_and_refreshes_live_runs(runner: Runner, engine: InMemoryEngine) -> None:
    first = runner.run(two_role_app(), "inmemory")
    second = runner.run(two_role_app(), "inmemory")
    third = runner.run(two_role_app(), "inmemory")
    engine.set_state(first.app_id, S.SUCCEEDED)  # not yet seen by the store
    engine.set_state(third.app_id, S.RUNNING)

    def handles(**kw: object) -> list[str]:
        return [r.handle for r in runner.list(**kw)]  # type: ignore[arg-type]

    assert handles() == [str(third), str(second), str(first)]
    assert handles(states=[S.SUCCEEDED]) == [str(first)]
    assert handles(states=[S.RUNNING, S.SUBMITTED]) == [str(third), str(second)]
    assert handles(scheduler="inmemory", limit=1) == [str(third)]
    assert handles(scheduler="local") == []
    cutoff = runner.describe(second).created_at
    assert handles(since=cutoff) == [str(third), str(second)]
    live = {r.handle: r for r in runner.list()}
    assert live[str(third)].status is not None and live[str(third)].state is S.RUNNING
    # a terminal run is not asked again
    engine.calls.clear()
    runner.list()
    assert {app_id for api, app_id in engine.calls if api == "describe"} == {
        second.app_id,
        third.app_id,
    }


def test_list_keeps_runs_of_an_unreachable_scheduler(
    runner: Runner, engine: InMemoryEngine
) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    engine.fail("describe", ConnectionError("engine down"))
    [record] = runner.list()
    assert record.handle == str(handle) and record.status is None
    with pytest.raises(BackendError, match="engine down"):
        runner.list(scheduler="inmemory")  # asked for by name: the failure shows


# -- lifecycle --------------------------------------------------------------------------
def test_schedulers_are_made_once_and_closed(engine: InMemoryEngine, state_dir: Path) -> None:
    store = RunStore()
    with get_runner("test", registry=make_registry(engine), store=store) as runner:
        assert runner.scheduler("inmemory") is runner.scheduler("inmemory")
        runner.run(two_role_app(), "inmemory")
    assert engine.closed == 1
    assert store.list()  # a store passed in stays usable


def test_run_component(runner: Runner, engine: InMemoryEngine) -> None:
    info = runner.dryrun_component("utils.echo", ["--msg", "hi there"], "inmemory")
    assert info.app.roles[0].args == ["hi there"]
    handle = runner.run_component("utils.echo", ["--msg", "hello"], "inmemory")
    assert engine.apps[handle.app_id].app.roles[0].args == ["hello"]
    assert runner.describe(handle).app_name == "echo"


def test_handles_from_another_session_use_that_session(
    engine: InMemoryEngine, state_dir: Path
) -> None:
    registry = make_registry(engine)
    handle = Runner("alice", registry=registry).run(two_role_app(), "inmemory")
    with Runner("bob", registry=registry) as bob:
        assert bob.status(handle).handle == f"inmemory://alice/{handle.app_id}"
        assert bob.scheduler("inmemory", "alice").session == "alice"


def test_wait_is_woken_by_the_watcher_not_a_sleep(runner: Runner, engine: InMemoryEngine) -> None:
    handle = runner.run(two_role_app(), "inmemory")
    later(0.05, engine.set_state, handle.app_id, S.SUCCEEDED)
    runner.wait(handle, timeout=60)
    describes = [c for c in engine.calls if c == ("describe", handle.app_id)]
    assert len(describes) <= 3  # one read before, one after the wake-up (not a poll loop)
