"""``cancel`` (handles, filters, grace period), ``delete`` and ``wait --state`` through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from torchrun_core.runstore import RunStore

from .cli_process import CliRunner, error_lines
from .test_cli_local import submit, wait_for_state

SLEEP = ("utils.sh", "sleep 600")


@pytest.fixture(autouse=True)
def _stop_everything(cli: CliRunner) -> Iterator[None]:
    """Leave no app running behind a failed test."""
    yield
    cli("cancel", "--all", "--grace-period", "0")


def test_cancel_refuses_an_empty_or_mixed_selection(cli: CliRunner) -> None:
    handle = submit(cli, *SLEEP)
    for args in (["cancel"], ["cancel", handle, "--all"], ["cancel", handle, "-s", "local"]):
        proc = cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert len(error_lines(proc.stderr)) == 1 and proc.stdout == ""
    assert "cancel --all" in cli("cancel").stderr  # the hint
    bad = cli("cancel", handle, "--grace-period", "-1")
    assert bad.returncode == 2 and len(error_lines(bad.stderr)) == 1
    assert "RUNNING" in cli("status", handle).stdout


def test_cancel_by_filter_stops_only_the_matching_live_apps(cli: CliRunner) -> None:
    sleepers = [submit(cli, *SLEEP), submit(cli, *SLEEP)]
    other = submit(cli, "utils.python", "-c", "import time; time.sleep(600)")
    done = submit(cli, "utils.sh", "true")
    assert cli("wait", done, "--timeout", "30").returncode == 0
    for handle in (*sleepers, other):
        wait_for_state(cli, handle, "RUNNING")
    proc = cli("cancel", "--scheduler", "local", "--name", "s_", "--grace-period", "0")
    assert proc.returncode == 0, proc.stderr
    assert sorted(proc.stdout.splitlines()) == sorted(f"cancelled {h}" for h in sleepers)
    assert "RUNNING" in cli("status", other).stdout
    assert "SUCCEEDED" in cli("status", done).stdout
    none = cli("cancel", "--state", "SUCCEEDED")
    assert (none.returncode, none.stdout, none.stderr) == (0, "", "no live app matches\n")
    listed = cli("cancel", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {"handle": other, "ok": True, "state": "CANCELLED", "error": None, "note": None}
    ]


def test_cancel_json_reports_each_failure(cli: CliRunner) -> None:
    handle = submit(cli, *SLEEP)
    proc = cli("cancel", "--json", handle, "local://default/never-was")
    assert proc.returncode == 2
    ok, missing = json.loads(proc.stdout)
    assert (ok["handle"], ok["ok"], ok["state"]) == (handle, True, "CANCELLED")
    assert missing["ok"] is False and "never-was" in missing["error"]


def test_delete_stops_cleans_and_forgets(cli: CliRunner, state_dir: Path) -> None:
    handle = submit(cli, *SLEEP)
    wait_for_state(cli, handle, "RUNNING")
    app_dir = state_dir / "local" / "default" / handle.rsplit("/", 1)[1]
    assert app_dir.is_dir()
    proc = cli("delete", "--grace-period", "0", handle, "local://default/never-was")
    assert proc.returncode == 2
    assert proc.stdout == f"deleted {handle}\n"
    assert len(error_lines(proc.stderr)) == 1 and "never-was" in proc.stderr
    assert not app_dir.exists()
    gone = cli("status", handle)
    assert gone.returncode == 2 and len(error_lines(gone.stderr)) == 1
    assert handle not in cli("list").stdout
    again = cli("delete", handle)
    assert again.returncode == 2 and error_lines(again.stderr) == [f"error: no app {handle}"]


def test_delete_of_an_app_whose_plugin_is_gone_needs_force(cli: CliRunner) -> None:
    handle = "vanished://default/app-1"
    store = RunStore()  # in the test's state dir, as the CLI's
    store.add_run(
        handle, scheduler="vanished", session="default", app_id="app-1", app_name="app",
        app_json=None,
    )  # fmt: skip
    store.close()
    refused = cli("delete", handle)
    assert refused.returncode == 2
    assert len(error_lines(refused.stderr)) == 1
    assert f"hint: to forget its record anyway: torchrun-core delete --force {handle}" in (
        refused.stderr
    )
    forced = cli("delete", "--force", handle)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == f"deleted {handle}\n"
    assert forced.stderr.startswith("warning: forgot the record only; vanished was not cleaned")
    assert cli("describe", handle).returncode == 2


def test_wait_for_a_state_the_app_never_reaches_is_one_error(cli: CliRunner) -> None:
    handle = submit(cli, "utils.sh", "exit 3")
    assert cli("wait", handle, "--timeout", "30").returncode == 1
    proc = cli("wait", handle, "--state", "RUNNING", "--timeout", "30")
    assert proc.returncode == 1
    assert proc.stdout == ""
    [line] = error_lines(proc.stderr)
    assert line.startswith(f"error: app {handle} ended FAILED before reaching RUNNING: ")
    assert "exited with 3" in line
    assert "Traceback" not in proc.stderr
