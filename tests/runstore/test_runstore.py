"""The SQLite run store: records, state events, queries, schema, and concurrent writers."""

from __future__ import annotations

import itertools
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from torchrun_core.errors import BackendError
from torchrun_core.runstore import DB_NAME, SCHEMA_VERSION, RunStore
from torchrun_core.specs.state import AppState

S = AppState


def add(store: RunStore, handle: str, **kw: object) -> None:
    scheduler, _, rest = handle.partition("://")
    session, _, app_id = rest.partition("/")
    fields: dict[str, object] = {
        "scheduler": scheduler,
        "session": session,
        "app_id": app_id,
        "app_name": app_id.split("-")[0],
        "app_json": None,
    }
    fields.update(kw)
    store.add_run(handle, **fields)  # type: ignore[arg-type]


@pytest.fixture
def store(state_dir: Path) -> RunStore:
    return RunStore()


def test_default_path_follows_state_dir_env(store: RunStore, state_dir: Path) -> None:
    assert store.path == state_dir.resolve() / DB_NAME
    assert not store.path.exists()  # nothing is opened until used
    assert store.get("local://default/x") is None
    assert store.path.exists()


def test_add_run_records_everything_and_a_first_event(store: RunStore) -> None:
    store.add_run(
        "local://s/echo-1",
        scheduler="local",
        session="s",
        app_id="echo-1",
        app_name="echo",
        app_json='{"name": "echo", "roles": [{"name": "r", "entrypoint": "echo"}]}',
        cfg={"log_dir": "/tmp/x", "grace": 2},
        parent_run_id="local://s/parent-1",
    )
    record = store.get("local://s/echo-1")
    assert record is not None
    assert (record.scheduler, record.session, record.app_id, record.app_name) == (
        "local",
        "s",
        "echo-1",
        "echo",
    )
    assert record.state is S.SUBMITTED
    assert record.cfg == {"log_dir": "/tmp/x", "grace": 2}
    assert record.parent_run_id == "local://s/parent-1"
    assert record.app is not None and record.app.roles[0].entrypoint == "echo"
    assert record.created_at is not None and abs(record.created_at - time.time()) < 60
    [event] = store.events("local://s/echo-1")
    assert (event.index, event.state, event.handle) == (1, S.SUBMITTED, "local://s/echo-1")
    assert record.to_dict()["app"]["name"] == "echo"


def test_record_state_appends_only_changes(store: RunStore) -> None:
    add(store, "x://s/a-1")
    assert store.record_state("x://s/a-1", S.PENDING) is True
    assert store.record_state("x://s/a-1", S.PENDING) is False
    assert store.record_state("x://s/a-1", S.RUNNING, "started") is True
    assert store.record_state("x://s/a-1", S.RUNNING) is False
    assert store.record_state("x://s/a-1", S.FAILED, "exit 3") is True
    events = store.events("x://s/a-1")
    assert [e.state for e in events] == [S.SUBMITTED, S.PENDING, S.RUNNING, S.FAILED]
    assert [e.index for e in events] == [1, 2, 3, 4]
    assert [e.message for e in events] == [None, None, "started", "exit 3"]
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    assert store.state("x://s/a-1") is S.FAILED


def test_terminal_states_are_final_and_unknown_is_not_recorded(store: RunStore) -> None:
    add(store, "x://s/a-1")
    assert store.record_state("x://s/a-1", S.UNKNOWN) is False
    assert store.record_state("x://s/a-1", S.SUCCEEDED) is True
    assert store.record_state("x://s/a-1", S.RUNNING) is False
    assert store.record_state("x://s/a-1", S.FAILED) is False
    assert [e.state for e in store.events("x://s/a-1")] == [S.SUBMITTED, S.SUCCEEDED]


def test_a_stale_observation_does_not_overwrite_a_newer_one(store: RunStore) -> None:
    add(store, "x://s/a-1")
    before = time.time()
    assert store.record_state("x://s/a-1", S.RUNNING, at=before + 1)
    # Another process observed PENDING earlier but writes later: ignored.
    assert store.record_state("x://s/a-1", S.PENDING, at=before + 0.5) is False
    assert store.state("x://s/a-1") is S.RUNNING


def test_record_states_writes_a_batch_in_one_go(store: RunStore) -> None:
    for name in ("a-1", "a-2", "a-3"):
        add(store, f"x://s/{name}")
    store.record_state("x://s/a-3", S.RUNNING)
    changed = store.record_states(
        [
            ("x://s/a-1", S.RUNNING, "up", None),
            ("x://s/a-2", S.SUBMITTED, None, None),  # no change
            ("x://s/a-3", S.RUNNING, None, None),  # no change
            ("x://s/nope", S.RUNNING, None, None),  # unknown
            ("x://s/a-2", S.UNKNOWN, None, None),  # never recorded
        ]
    )
    assert changed == ["x://s/a-1"]
    assert [(e.state, e.message) for e in store.events("x://s/a-1")][-1] == (S.RUNNING, "up")
    assert store.record_states([]) == []


def test_unknown_handles(store: RunStore) -> None:
    assert store.get("x://s/nope") is None
    assert store.state("x://s/nope") is None
    assert store.events("x://s/nope") == []
    assert store.record_state("x://s/nope", S.RUNNING) is False
    assert store.delete("x://s/nope") is False


def test_a_reused_handle_replaces_the_old_record(store: RunStore) -> None:
    add(store, "x://s/a-1", app_name="old")
    store.record_state("x://s/a-1", S.FAILED)
    add(store, "x://s/a-1", app_name="new")
    record = store.get("x://s/a-1")
    assert record is not None and record.app_name == "new" and record.state is S.SUBMITTED
    assert [e.state for e in store.events("x://s/a-1")] == [S.SUBMITTED]


def test_list_filters_and_orders_newest_first(store: RunStore) -> None:
    add(store, "local://s/a-1", created_at=100.0)
    add(store, "docker://s/b-2", created_at=200.0)
    add(store, "local://s/c-3", created_at=300.0)
    add(store, "local://s/d-4", created_at=300.0)  # same time: later insert first
    store.record_state("local://s/a-1", S.RUNNING, at=400.0)
    store.record_state("docker://s/b-2", S.SUCCEEDED, at=400.0)
    store.record_state("local://s/c-3", S.FAILED, at=400.0)

    def handles(**kw: object) -> list[str]:
        return [r.handle for r in store.list(**kw)]  # type: ignore[arg-type]

    assert handles() == ["local://s/d-4", "local://s/c-3", "docker://s/b-2", "local://s/a-1"]
    assert handles(scheduler="docker") == ["docker://s/b-2"]
    assert handles(states=[S.RUNNING, S.FAILED]) == ["local://s/c-3", "local://s/a-1"]
    assert handles(scheduler="local", states=[S.SUCCEEDED]) == []
    assert handles(scheduler="local", states=[S.SUBMITTED, S.RUNNING]) == [
        "local://s/d-4",
        "local://s/a-1",
    ]
    assert handles(since=200.0) == ["local://s/d-4", "local://s/c-3", "docker://s/b-2"]
    assert handles(limit=2) == ["local://s/d-4", "local://s/c-3"]
    assert handles(states=[S.SUBMITTED, S.RUNNING, S.FAILED], limit=2) == [
        "local://s/d-4",
        "local://s/c-3",
    ]
    assert handles(states=[]) == []
    assert handles(limit=0) == []


def test_list_uses_an_index_for_each_filter(store: RunStore) -> None:
    add(store, "local://s/a-1")
    db = sqlite3.connect(store.path)
    try:
        filters = (
            "",
            "WHERE scheduler = 'x'",
            "WHERE state = 'x'",
            "WHERE scheduler = 'x' AND state = 'y'",
            "WHERE created_at >= 1",
        )
        for where in filters:
            plan = db.execute(
                f"EXPLAIN QUERY PLAN SELECT * FROM runs {where} "
                "ORDER BY created_at DESC, rowid DESC LIMIT 50"
            ).fetchall()
            text = " ".join(str(row[-1]) for row in plan)
            assert "USING INDEX" in text and "TEMP B-TREE" not in text, (where, text)
    finally:
        db.close()


def test_schema_is_versioned_wal_and_private(store: RunStore) -> None:
    add(store, "x://s/a-1")
    db = sqlite3.connect(store.path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_a_store_from_a_newer_version_is_refused(state_dir: Path) -> None:
    path = state_dir / DB_NAME
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(BackendError, match="newer") as info:
        RunStore().get("x://s/a")
    assert info.value.hint


def test_a_corrupt_file_is_a_backend_error_with_a_hint(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / DB_NAME).write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackendError, match=DB_NAME) as info:
        RunStore().get("x://s/a")
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert "TORCHRUN_CORE_STATE_DIR" in (info.value.hint or "")


def test_importing_the_store_does_not_import_sqlite() -> None:
    code = (
        "import sys, torchrun_core, torchrun_core.runstore;"
        "s = torchrun_core.runstore.RunStore();"
        "print('sqlite3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_opens_its_own_connection(store: RunStore) -> None:
    add(store, "x://s/parent-1")
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's connection
        code = 1
        try:
            add(store, "x://s/child-1")
            store.record_state("x://s/parent-1", S.RUNNING)
            store.close()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.state("x://s/parent-1") is S.RUNNING
    assert store.get("x://s/child-1") is not None
    store.record_state("x://s/parent-1", S.SUCCEEDED)
    assert [e.state for e in store.events("x://s/parent-1")] == [
        S.SUBMITTED,
        S.RUNNING,
        S.SUCCEEDED,
    ]


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from torchrun_core.runstore import RunStore
    from torchrun_core.specs.state import AppState as S

    db, go, worker, runs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    store = RunStore(db, busy_timeout_s=60)
    while not go.exists():  # start together, for real contention
        time.sleep(0.001)
    for i in range(runs):
        handle = f"t://s/{worker}-{i}"
        store.add_run(handle, scheduler="t", session="s", app_id=f"{worker}-{i}",
                      app_name=worker, app_json=None, cfg={"worker": worker, "i": i})
        for state in (S.PENDING, S.RUNNING, S.SUCCEEDED):
            assert store.record_state(handle, state, f"{worker} {state}")
        # every worker races on the shared run; only the first of each change counts
        for _ in range(3):
            store.record_state("t://s/shared-0", S.PENDING)
            store.record_state("t://s/shared-0", S.RUNNING)
    store.record_state("t://s/shared-0", S.SUCCEEDED)
    """
)


def test_concurrent_writers_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    db, go = tmp_path / "runs.sqlite", tmp_path / "go"
    store = RunStore(db)
    add(store, "t://s/shared-0")
    workers, runs = 4, 50
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db), str(go), f"w{n}", str(runs)])
        for n in range(workers)
    ]
    go.touch()
    try:
        codes = [p.wait(timeout=100) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert codes == [0] * workers

    records = store.list(scheduler="t")
    assert len(records) == workers * runs + 1
    all_seqs: list[int] = []
    for record in records:
        events = store.events(record.handle)
        all_seqs += [e.seq for e in events]
        assert [e.index for e in events] == list(range(1, len(events) + 1))
        states = [e.state for e in events]
        assert all(a is not b for a, b in itertools.pairwise(states)), states  # no duplicates
        if record.handle == "t://s/shared-0":
            assert states[0] is S.SUBMITTED and states[-1] is S.SUCCEEDED
            assert states.count(S.SUCCEEDED) == 1
        else:
            assert states == [S.SUBMITTED, S.PENDING, S.RUNNING, S.SUCCEEDED]
            assert record.cfg["worker"] == record.app_id.split("-")[0]
        assert record.state is S.SUCCEEDED
    assert len(all_seqs) == len(set(all_seqs))
    with sqlite3.connect(db) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
