"""Runner.list and Runner.events: fresh states for the page only, cursors, sequence numbers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from inmemory_scheduler import InMemoryEngine, make_registry, two_role_app

from torchrun_core.errors import AppNotFoundError, InvalidInputError, MalformedHandleError
from torchrun_core.runner import Runner, get_runner
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState

S = AppState


@pytest.fixture
def engine() -> InMemoryEngine:
    return InMemoryEngine()


@pytest.fixture
def runner(engine: InMemoryEngine) -> Iterator[Runner]:
    with Runner("test", registry=make_registry(engine)) as made:
        yield made


def submit(runner: Runner, count: int) -> list[AppHandle]:
    """``count`` apps, oldest first."""
    return [runner.run(two_role_app(), "inmemory") for _ in range(count)]


def asked(engine: InMemoryEngine) -> set[str]:
    return {app_id for api, app_id in engine.calls if api == "describe"}


def test_only_the_live_runs_of_the_page_are_asked(runner: Runner, engine: InMemoryEngine) -> None:
    a, b, c, d = submit(runner, 4)
    engine.set_state(b.app_id, S.SUCCEEDED)
    runner.list()  # b's end is recorded
    engine.set_state(d.app_id, S.RUNNING)
    engine.calls.clear()
    page = runner.list(limit=2)
    assert [r.handle for r in page] == [str(d), str(c)]
    assert page[0].state is S.RUNNING and page[0].status is not None  # fresh
    assert asked(engine) == {d.app_id, c.app_id}
    engine.calls.clear()
    rest = runner.list(limit=2, cursor=page.next_cursor)
    assert [r.handle for r in rest] == [str(b), str(a)] and rest.next_cursor is None
    assert asked(engine) == {a.app_id}  # b is terminal: never asked again


def test_a_state_filter_sees_states_reached_since_last_seen(
    runner: Runner, engine: InMemoryEngine
) -> None:
    a, b, c, d = submit(runner, 4)
    engine.set_state(d.app_id, S.SUCCEEDED)  # recorded SUBMITTED, in fact over
    engine.set_state(c.app_id, S.RUNNING)
    engine.set_state(b.app_id, S.RUNNING)
    engine.calls.clear()
    page = runner.list(states=[S.RUNNING], limit=1)
    assert [(r.handle, r.state) for r in page] == [(str(c), S.RUNNING)]
    assert page.next_cursor is not None  # b matches too
    # d was asked (it might have been RUNNING) and b to know a next page exists; a never.
    assert asked(engine) == {d.app_id, c.app_id, b.app_id}
    assert runner.store.state(str(d)) is S.SUCCEEDED  # what list learnt is recorded
    nxt = runner.list(states=[S.RUNNING], limit=1, cursor=page.next_cursor)
    assert [r.handle for r in nxt] == [str(b)] and nxt.next_cursor is None
    assert [r.handle for r in runner.list(states=[S.SUCCEEDED])] == [str(d)]
    assert [r.handle for r in runner.list(states=[S.SUBMITTED])] == [str(a)]


def test_state_filtered_pages_cover_every_match_once(
    runner: Runner, engine: InMemoryEngine
) -> None:
    handles = submit(runner, 12)
    for i, handle in enumerate(handles):
        if i % 3 == 0:
            engine.set_state(handle.app_id, S.RUNNING)
        elif i % 3 == 1:
            engine.set_state(handle.app_id, S.FAILED)
    wanted = [S.RUNNING, S.FAILED]
    expected = [str(h) for i, h in reversed(list(enumerate(handles))) if i % 3 != 2]
    for limit in (1, 2, 5, 8):
        seen: list[str] = []
        cursor = None
        while True:
            page = runner.list(states=wanted, limit=limit, cursor=cursor)
            assert len(page) <= limit and all(r.state in wanted for r in page)
            seen += [r.handle for r in page]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == expected, limit


def test_list_filters_and_sorts(runner: Runner) -> None:
    parent = runner.run(two_role_app(), "inmemory")
    children = [runner.run(two_role_app(), "inmemory", parent_run_id=str(parent)) for _ in range(3)]
    got = runner.list(parent=parent, sort="oldest")
    assert [r.handle for r in got] == [str(h) for h in children]
    assert [r.handle for r in runner.list(parent=str(parent), limit=1)] == [str(children[-1])]
    assert len(runner.list(name="TR%")) == len(runner.list(name="t_ain")) == 4
    assert runner.list(name="tra") == []
    assert runner.list(until=runner.describe(parent).created_at) == []
    assert runner.list(limit=0) == [] and runner.list(limit=0, states=[S.SUBMITTED]) == []
    assert runner.list(states=[]) == []


def test_bad_list_arguments_are_invalid_input(runner: Runner) -> None:
    with pytest.raises(InvalidInputError, match="limit"):
        runner.list(limit=-1)
    with pytest.raises(InvalidInputError, match="cursor"):
        runner.list(cursor="not-a-cursor")
    with pytest.raises(MalformedHandleError):
        runner.list(parent="no-scheme")
    with pytest.raises(InvalidInputError, match="sort"):
        runner.list(sort="random")


def test_live_local_runs_the_scheduler_does_not_know_keep_their_state(
    runner: Runner,
) -> None:
    with get_runner() as local_runner:  # the real local scheduler
        for i in range(5):
            local_runner.store.add_run(
                f"local://default/ghost-{i}", scheduler="local", session="default",
                app_id=f"ghost-{i}", app_name="ghost", app_json=None, state=S.RUNNING,
            )  # fmt: skip
        page = local_runner.list(scheduler="local", limit=3)
        assert [r.state for r in page] == [S.RUNNING] * 3
        assert all(r.status is None for r in page)
        assert len(local_runner.list(scheduler="local", states=[S.RUNNING])) == 5


def test_events_have_increasing_sequence_numbers(runner: Runner, engine: InMemoryEngine) -> None:
    handle, other = submit(runner, 2)
    engine.set_state(handle.app_id, S.RUNNING)
    runner.status(handle)
    engine.set_state(other.app_id, S.RUNNING)
    runner.status(other)
    engine.set_state(handle.app_id, S.SUCCEEDED)
    runner.status(handle)
    events = runner.events(handle)
    assert [e.state for e in events] == [S.SUBMITTED, S.RUNNING, S.SUCCEEDED]
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert runner.events(handle, after=seqs[0]) == events[1:]
    assert runner.events(str(handle), after=seqs[-1]) == []  # known run, nothing new
    with pytest.raises(AppNotFoundError):
        runner.events("inmemory://test/nope", after=0)
