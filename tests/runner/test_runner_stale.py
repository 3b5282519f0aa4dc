"""A scheduler that cannot be asked: ``list`` marks the rows it could not refresh and
says why; ``describe`` shows the record and the error instead of failing.
"""

from __future__ import annotations

import json

import pytest
from inmemory_scheduler import InMemoryEngine, make_registry, two_role_app

from torchrun_core.cli.main import main
from torchrun_core.errors import SchedulerUnavailableError
from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState as S

DOWN = SchedulerUnavailableError("inmemory engine at mem:// is not answering")


@pytest.fixture
def two_apps(runner: Runner, engine: InMemoryEngine) -> tuple[str, str]:
    """One app RUNNING, one SUCCEEDED (terminal: never asked again), both recorded."""
    running = runner.run(two_role_app(), "inmemory")
    engine.set_state(running.app_id, S.RUNNING)
    runner.status(running)
    done = runner.run(two_role_app(), "inmemory")
    engine.set_state(done.app_id, S.SUCCEEDED)
    runner.status(done)
    engine.fail("describe", DOWN)
    return str(running), str(done)


def test_list_marks_the_runs_it_could_not_refresh(
    runner: Runner, two_apps: tuple[str, str]
) -> None:
    running, done = two_apps
    rows = {r.handle: r for r in runner.list()}
    assert rows[running].state is S.RUNNING
    assert rows[running].stale == f"inmemory could not be asked: {DOWN}"
    assert rows[done].stale is None  # a terminal state cannot be stale
    assert rows[running].to_dict()["stale"] == rows[running].stale


def test_describe_shows_the_record_and_the_error(runner: Runner, two_apps: tuple[str, str]) -> None:
    running, _ = two_apps
    record = runner.describe(running)
    assert record.state is S.RUNNING and record.app is not None
    assert record.status is None
    assert record.stale == f"inmemory could not be asked: {DOWN}"


@pytest.fixture
def cli_runner(engine: InMemoryEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's runner (in this process) over the in-memory engine."""
    monkeypatch.setattr(
        "torchrun_core.runner.get_runner",
        lambda name="default", **kw: Runner("test", registry=make_registry(engine)),
    )


@pytest.mark.usefixtures("cli_runner")
def test_cli_list_marks_stale_rows_and_says_why_once(
    two_apps: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    running, done = two_apps
    assert main(["list"]) == 0
    out, err = capsys.readouterr()
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "RUNNING (stale)" in lines[running]
    assert "(stale)" not in lines[done]
    warnings = err.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: (stale) marks a recorded")
    assert str(DOWN) in warnings[0]
    assert main(["list", "--json"]) == 0
    rows = {r["handle"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[running]["stale"] and rows[done]["stale"] is None


@pytest.mark.usefixtures("cli_runner")
def test_cli_describe_prints_the_record_and_the_error(
    two_apps: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    running, _ = two_apps
    assert main(["describe", running]) == 0
    out, err = capsys.readouterr()
    assert f"handle:     {running}" in out and "trainer" in out  # the recorded spec
    assert f"stale:      inmemory could not be asked: {DOWN}" in out
    stale = f"inmemory could not be asked: {DOWN}"
    assert err.splitlines() == [f"warning: the state shown is the recorded one: {stale}"]
