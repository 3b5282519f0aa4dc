"""Write-ahead submission: a run is recorded before anything is launched, and a launch
cut short (the launching process killed) leaves a record that resolves against the
scheduler. The in-memory scheduler stands for both kinds of scheduler: ids fixed at
dry run (local, docker, kubernetes) and ids given by the submission (slurm).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from inmemory_scheduler import InMemoryEngine, make_registry, two_role_app

from torchrun_core.errors import BackendError, UnexpectedStateError
from torchrun_core.runner import Runner
from torchrun_core.runstore import RunStore
from torchrun_core.runstore.launch_mark import PROVISIONAL_PREFIX, LaunchMark, _start_time
from torchrun_core.runstore.record import RunRecord
from torchrun_core.specs.state import AppState as S


def interrupt(_: str) -> None:
    raise KeyboardInterrupt  # stands for kill -9: the launching code runs no further


def cut_short(runner: Runner, engine: InMemoryEngine, at: str, ids_at_dryrun: bool) -> None:
    """Run an app whose launch is cut short at scheduler call ``at``."""
    engine.ids_at_dryrun = ids_at_dryrun
    engine.hooks[at] = interrupt
    with pytest.raises(KeyboardInterrupt):
        runner.run(two_role_app(), "inmemory")


def only_record(runner: Runner) -> RunRecord:
    records = runner.store.list()
    assert len(records) == 1, records
    return records[0]


def test_the_run_is_recorded_before_the_scheduler_launches_it(
    runner: Runner, engine: InMemoryEngine
) -> None:
    seen: list[RunRecord] = []
    engine.hooks["schedule"] = lambda _: seen.extend(runner.store.list())
    handle = runner.run(two_role_app(), "inmemory")
    assert len(seen) == 1 and seen[0].state is S.UNSUBMITTED
    assert seen[0].launch is not None and seen[0].launch.pid == os.getpid()
    record = runner.store.get(str(handle))
    assert record is not None and record.launch is None and record.state is S.SUBMITTED
    # renamed from its provisional id to the scheduler's, with a history as before
    assert seen[0].handle.split("/")[-1].startswith(PROVISIONAL_PREFIX)
    assert runner.store.get(seen[0].handle) is None
    assert [e.state for e in runner.events(handle)] == [S.SUBMITTED]


def test_an_id_fixed_at_dry_run_is_recorded_under_that_id(
    runner: Runner, engine: InMemoryEngine
) -> None:
    engine.ids_at_dryrun = True
    info = runner.dryrun(two_role_app(), "inmemory")
    seen: list[RunRecord] = []
    engine.hooks["schedule"] = lambda _: seen.extend(runner.store.list())
    handle = runner.schedule(info)
    assert handle.app_id == info.app_id == seen[0].app_id


def store_runner(engine: InMemoryEngine, store: RunStore) -> Runner:
    return Runner("test", store=store, registry=make_registry(engine))


def check_not_launched(runner: Runner, engine: InMemoryEngine, fragment: str) -> None:
    with pytest.raises(BackendError) as caught:
        runner.run(two_role_app(), "inmemory")
    assert "train was not launched: its run could not be recorded" in str(caught.value)
    assert fragment in str(caught.value)
    assert caught.value.hint
    assert "schedule" not in [api for api, _ in engine.calls]
    assert engine.apps == {}


def test_a_locked_store_launches_nothing(engine: InMemoryEngine, tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    RunStore(path).close()  # made and migrated
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # as another process holding the write lock
    try:
        with store_runner(engine, RunStore(path, busy_timeout_s=0.1)) as runner:
            check_not_launched(runner, engine, "database is locked")
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_corrupt_store_launches_nothing(engine: InMemoryEngine, tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with store_runner(engine, RunStore(path)) as runner:
        check_not_launched(runner, engine, "file is not a database")


class FullDiskStore(RunStore):
    """A store whose every write fails as SQLite fails on a full disk."""

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connection():
            raise sqlite3.OperationalError("database or disk is full")
        yield  # pragma: no cover


def test_a_full_disk_launches_nothing(engine: InMemoryEngine, tmp_path: Path) -> None:
    with store_runner(engine, FullDiskStore(tmp_path / "runs.sqlite")) as runner:
        check_not_launched(runner, engine, "database or disk is full")


def test_a_failed_launch_leaves_no_record(runner: Runner, engine: InMemoryEngine) -> None:
    engine.fail("schedule", RuntimeError("quota exceeded"))
    with pytest.raises(BackendError, match="quota exceeded"):
        runner.run(two_role_app(), "inmemory")
    assert runner.store.list() == []


def test_a_launch_cut_short_without_an_id_reads_unknown_never_live(
    runner: Runner, engine: InMemoryEngine
) -> None:
    # launched; the answer never reached the store
    cut_short(runner, engine, "scheduled", ids_at_dryrun=False)
    record = only_record(runner)
    handle = record.handle
    status = runner.status(handle)
    assert status.state is S.UNKNOWN
    assert "interrupted before inmemory gave it an id" in status.message
    assert "delete forgets this record" in status.message
    assert [r.state for r in runner.list()] == [S.UNKNOWN]
    assert runner.describe(handle).state is S.UNKNOWN
    for call in (runner.cancel, runner.wait, lambda h: list(runner.log_lines(h))):
        with pytest.raises(UnexpectedStateError, match="interrupted before it got an id") as err:
            call(handle)
        assert err.value.hint == f"forget its record with: torchrun-core delete {handle}"
    # its provisional id was never shown to the scheduler
    assert [c for c in engine.calls if c[1].startswith(PROVISIONAL_PREFIX)] == []
    outcome = runner.delete(handle)
    assert outcome.ok and "never gave it an id" in outcome.note
    assert runner.store.list() == []


def test_a_launch_cut_short_with_an_id_resolves_against_the_scheduler(
    runner: Runner, engine: InMemoryEngine
) -> None:
    cut_short(runner, engine, "scheduled", ids_at_dryrun=True)
    (app_id,) = engine.apps
    engine.set_state(app_id, S.RUNNING)
    [listed] = runner.list()
    assert listed.state is S.RUNNING and listed.launch is None  # settled by the list
    events = runner.events(listed.handle)
    assert [e.state for e in events] == [S.UNSUBMITTED, S.RUNNING]
    assert "was interrupted; inmemory has the app" in str(events[-1].message)
    runner.cancel(listed.handle)
    assert runner.status(listed.handle).state is S.CANCELLED
    assert runner.delete(listed.handle).ok and engine.apps == {}


def test_a_launch_cut_short_before_the_scheduler_saw_it_reads_never_launched(
    runner: Runner, engine: InMemoryEngine
) -> None:
    cut_short(runner, engine, "schedule", ids_at_dryrun=True)
    handle = only_record(runner).handle
    status = runner.status(handle)
    assert status.state is S.FAILED
    assert status.message.startswith(f"never launched: pid {os.getpid()} on ")
    assert runner.status(handle).message == status.message  # also once settled
    assert runner.wait(handle, timeout=5).state is S.FAILED
    assert runner.delete(handle).ok
    assert runner.store.list() == []


def other_launch(store: RunStore, pid: int, started: int | None) -> str:
    """A run recorded as being launched by process ``pid`` (never by this one)."""
    mark = LaunchMark(socket.gethostname(), pid, started, False, time.time(), "elsewhere")
    handle = "inmemory://test/unsubmitted-0a0b"
    store.add_run(
        handle, scheduler="inmemory", session="test", app_id="unsubmitted-0a0b",
        app_name="train", app_json=None, state=S.UNSUBMITTED, launch_json=mark.to_json(),
    )  # fmt: skip
    return handle


def test_a_launch_in_flight_elsewhere_reads_as_being_launched(runner: Runner) -> None:
    parent = os.getppid()  # alive for as long as this test runs
    handle = other_launch(runner.store, parent, _start_time(parent))
    status = runner.status(handle)
    assert status.state is S.UNSUBMITTED
    assert f"being launched by pid {parent}" in status.message
    for call in (runner.cancel, runner.delete):
        with pytest.raises(UnexpectedStateError, match="it is being launched by"):
            call(handle)
    assert runner.store.get(handle) is not None


def test_a_reused_pid_is_not_taken_for_the_launcher(runner: Runner) -> None:
    parent = os.getppid()
    started = _start_time(parent)
    if started is None:
        pytest.skip("no /proc here: a pid's start time cannot be read")
    handle = other_launch(runner.store, parent, started + 1)
    assert runner.status(handle).state is S.UNKNOWN


def test_a_version_2_store_migrates_with_its_runs_launched(tmp_path: Path) -> None:
    from torchrun_core.runstore.schema import MIGRATIONS

    path = tmp_path / "runs.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    for _, statements in MIGRATIONS[:2]:
        for statement in statements:
            db.execute(statement)
    db.execute("PRAGMA user_version = 2")
    db.execute(
        "INSERT INTO runs (handle, scheduler, session, app_id, app_name, state, created_at, "
        "updated_at) VALUES ('x://s/a', 'x', 's', 'a', 'n', 'RUNNING', 1, 1)"
    )
    db.close()
    store = RunStore(path)
    record = store.get("x://s/a")
    assert record is not None and record.state is S.RUNNING and record.launch is None
    store.close()
