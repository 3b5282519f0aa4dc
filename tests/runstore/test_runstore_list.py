"""RunStore.list: filters combined with AND, ILIKE name patterns, sorts and keyset cursors."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from torchrun_core.errors import InvalidInputError
from torchrun_core.runstore import RunStore
from torchrun_core.runstore.query import RunQuery
from torchrun_core.runstore.record import RunPage, RunRecord
from torchrun_core.runstore.schema import MIGRATIONS
from torchrun_core.specs.state import AppState

S = AppState


def add(store: RunStore, handle: str, name: str, at: float, **kw: object) -> None:
    scheduler, _, rest = handle.partition("://")
    session, _, app_id = rest.partition("/")
    store.add_run(
        handle, scheduler=scheduler, session=session, app_id=app_id, app_name=name,
        app_json=None, created_at=at, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def store(state_dir: Path) -> RunStore:
    return RunStore()


def names(page: Sequence[RunRecord]) -> list[str]:
    return [r.app_name for r in page]


def handles(page: Sequence[RunRecord]) -> list[str]:
    return [r.handle for r in page]


def test_filters_combine_with_and(store: RunStore) -> None:
    add(store, "local://s/a", "train", 100.0)
    add(store, "docker://s/b", "train", 200.0, parent_run_id="local://s/a")
    add(store, "local://s/c", "eval", 300.0, parent_run_id="local://s/a")
    add(store, "local://s/d", "train", 400.0, parent_run_id="local://s/a")
    add(store, "local://s/e", "train", 500.0, parent_run_id="local://s/x")
    store.record_state("local://s/d", S.RUNNING, at=600.0)
    store.record_state("local://s/e", S.RUNNING, at=600.0)

    assert handles(store.list(parent="local://s/a")) == [
        "local://s/d",
        "local://s/c",
        "docker://s/b",
    ]
    assert handles(store.list(parent="local://s/a", name="train")) == [
        "local://s/d",
        "docker://s/b",
    ]
    assert handles(store.list(parent="local://s/a", name="train", scheduler="local")) == [
        "local://s/d"
    ]
    got = store.list(scheduler="local", name="train", states=[S.RUNNING], parent="local://s/a")
    assert handles(got) == ["local://s/d"]
    assert handles(store.list(since=200.0, until=400.0)) == ["local://s/c", "docker://s/b"]
    assert handles(store.list(None, None, 300.0)) == [
        "local://s/e",
        "local://s/d",
        "local://s/c",
    ]  # ``since`` stays the third positional parameter, inclusive
    assert handles(store.list(until=100.0)) == []  # ``until`` is exclusive
    assert handles(store.list(states=[S.RUNNING], since=550.0)) == []
    assert store.list(parent="local://s/nobody") == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("train", ["train", "TRAIN"]),  # whole name, ASCII case folded
        ("tr%", ["trainer", "train", "TRAIN"]),
        ("%ain", ["train", "TRAIN"]),
        ("%a%", ["a_b", "a%b", "trainer", "train", "TRAIN"]),
        ("train_", []),  # _ is exactly one character
        ("traine_", ["trainer"]),
        ("a_b", ["a_b", "a%b"]),  # an unescaped _ matches any one character
        ("a\\_b", ["a_b"]),  # escaped: only the underscore itself
        ("a\\%b", ["a%b"]),
        ("c\\\\d", ["c\\d"]),  # an escaped backslash
        ("c\\d", []),  # \d is a literal d
        ("%", ["ÉCOLE", "c\\d", "a_b", "a%b", "trainer", "train", "TRAIN"]),
        ("école", []),  # SQLite folds ASCII only: É is not é
        ("École", ["ÉCOLE"]),  # É is itself; the ASCII rest folds
        ("ÉCOLE", ["ÉCOLE"]),
        ("%COLE", ["ÉCOLE"]),
        ("", []),
    ],
)
def test_name_patterns_have_ilike_semantics(
    store: RunStore, pattern: str, expected: list[str]
) -> None:
    for at, name in enumerate(["TRAIN", "train", "trainer", "a%b", "a_b", "c\\d", "ÉCOLE"]):
        add(store, f"x://s/r{at}", name, float(at))
    assert names(store.list(name=pattern)) == expected


def test_a_pattern_ending_in_a_lone_backslash_is_refused(store: RunStore) -> None:
    with pytest.raises(InvalidInputError, match="lone backslash") as info:
        store.list(name="abc\\")
    assert info.value.hint
    assert store.list(name="abc\\\\") == []  # an escaped backslash at the end is fine


def test_sorts(store: RunStore) -> None:
    add(store, "x://s/1", "b", 100.0)
    add(store, "x://s/2", "a", 200.0)
    add(store, "x://s/3", "b", 50.0)
    add(store, "x://s/4", "a", 200.0)  # same time as x://s/2: insertion order breaks the tie
    assert handles(store.list()) == ["x://s/4", "x://s/2", "x://s/1", "x://s/3"]
    assert handles(store.list(sort="oldest")) == ["x://s/3", "x://s/1", "x://s/2", "x://s/4"]
    assert handles(store.list(sort="name")) == ["x://s/2", "x://s/4", "x://s/3", "x://s/1"]
    with pytest.raises(InvalidInputError, match="sort"):
        store.list(sort="size")


def page_through(store: RunStore, limit: int, **kw: object) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = store.list(limit=limit, cursor=cursor, **kw)  # type: ignore[arg-type]
        assert isinstance(page, RunPage) and len(page) <= limit
        seen += handles(page)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.mark.parametrize("sort", ["newest", "oldest", "name"])
@pytest.mark.parametrize("limit", [1, 3, 7, 40])
def test_cursor_pages_cover_every_row_once(store: RunStore, sort: str, limit: int) -> None:
    for i in range(40):  # ties in time and in name, in several states
        add(store, f"x://s/r{i}", f"n{i % 4}", float(i // 3))
        if i % 5 == 0:
            store.record_state(f"x://s/r{i}", S.RUNNING, at=1000.0)
    everything = handles(store.list(sort=sort))
    assert page_through(store, limit, sort=sort) == everything
    live = handles(store.list(sort=sort, states=[S.RUNNING, S.SUBMITTED]))
    assert page_through(store, limit, sort=sort, states=[S.RUNNING, S.SUBMITTED]) == live
    assert page_through(store, limit, sort=sort, name="n1") == handles(
        store.list(sort=sort, name="n1")
    )


def test_the_last_page_has_no_cursor(store: RunStore) -> None:
    for i in range(4):
        add(store, f"x://s/r{i}", "n", float(i))
    assert store.list(limit=4).next_cursor is None
    assert store.list(limit=3).next_cursor is not None
    assert store.list().next_cursor is None
    assert store.list(limit=0) == [] and store.list(limit=0).next_cursor is None


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_inserts_between_pages_neither_repeat_nor_hide_paged_rows(
    store: RunStore, sort: str
) -> None:
    for i in range(10):
        add(store, f"x://s/old{i}", "n", 100.0 + i)
    first = store.list(limit=4, sort=sort)
    for i in range(5):  # newer runs, and one as old as a row already paged over
        add(store, f"x://s/new{i}", "n", 200.0 + i)
    add(store, "x://s/tie", "n", first[-1].created_at)  # type: ignore[arg-type]
    rest = page_through_from(store, first.next_cursor, sort)
    seen = handles(first) + rest
    assert len(seen) == len(set(seen))
    olds = {f"x://s/old{i}" for i in range(10)}
    assert olds <= set(seen)
    if sort == "newest":  # newer runs are before the first page: not shown
        assert set(seen) == olds
    else:  # after the last row seen: shown at the end, in order
        assert seen[-5:] == [f"x://s/new{i}" for i in range(5)]


def page_through_from(store: RunStore, cursor: str | None, sort: str) -> list[str]:
    seen: list[str] = []
    while cursor is not None:
        page = store.list(limit=3, cursor=cursor, sort=sort)
        seen += handles(page)
        cursor = page.next_cursor
    return seen


def _b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "abc",
        "!!!!",
        _b64("text"),
        _b64([1, "newest"]),
        _b64([2, "newest", [1.0, 1]]),  # another version
        _b64([1, "newest", [1.0]]),  # no rowid
        _b64([1, "newest", ["x", 1]]),  # wrong type
        _b64([1, "newest", [1.0, 1.5]]),
        _b64([1, "newest", [True, 1]]),
        _b64([1, "name", [1.0, 1.0, 1]]),
        _b64([1, "size", [1.0, 1]]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_malformed_cursor_is_invalid_input(store: RunStore, cursor: str) -> None:
    with pytest.raises(InvalidInputError, match="cursor") as info:
        store.list(limit=1, cursor=cursor)
    assert info.value.hint


def test_a_cursor_from_another_sort_is_refused(store: RunStore) -> None:
    for i in range(3):
        add(store, f"x://s/r{i}", "n", float(i))
    cursor = store.list(limit=1, sort="oldest").next_cursor
    with pytest.raises(InvalidInputError, match="--sort oldest"):
        store.list(limit=1, cursor=cursor, sort="newest")


def test_each_listing_walks_an_index_in_its_order(store: RunStore) -> None:
    add(store, "x://s/a", "n", 1.0)
    page = store.list(limit=1)
    cursor = RunQuery(sort="newest").cursor_of(page[0])
    cases = [
        RunQuery(),
        RunQuery(sort="oldest"),
        RunQuery(sort="name"),
        RunQuery(scheduler="x"),
        RunQuery(parent="x://s/p"),
        RunQuery(name="%n%"),
        RunQuery.build(cursor=cursor),
        RunQuery.build(scheduler="x", cursor=cursor),
    ]
    db = sqlite3.connect(store.path)
    try:
        for query in cases:
            for state in (None, "RUNNING"):
                sql, params = query.sql(state, 51)
                plan = db.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
                text = " ".join(str(row[-1]) for row in plan)
                assert "USING" in text and "TEMP B-TREE" not in text, (query, state, text)
    finally:
        db.close()


def test_schema_2_migrates_a_version_1_store(state_dir: Path) -> None:
    path = state_dir / "runs.sqlite"
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0][1]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO runs (handle, scheduler, session, app_id, app_name, state, created_at, "
        "updated_at, parent_run_id) VALUES ('x://s/c', 'x', 's', 'c', 'n', 'RUNNING', 1, 1, 'x://s/p')"
    )
    db.close()
    store = RunStore(path)
    assert handles(store.list(parent="x://s/p")) == ["x://s/c"]
    db = sqlite3.connect(path)
    try:
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"runs_by_name", "runs_by_parent"} <= indexes
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 2
    finally:
        db.close()


def test_events_after_a_sequence_number(store: RunStore) -> None:
    add(store, "x://s/a", "n", 1.0)
    add(store, "x://s/b", "n", 2.0)
    store.record_state("x://s/a", S.RUNNING)
    store.record_state("x://s/b", S.RUNNING)
    store.record_state("x://s/a", S.SUCCEEDED)
    events = store.events("x://s/a")
    assert [e.state for e in events] == [S.SUBMITTED, S.RUNNING, S.SUCCEEDED]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert store.events("x://s/a", after=events[0].seq) == events[1:]
    assert store.events("x://s/a", after=events[-1].seq) == []
    assert store.events("x://s/a", after=0) == events
