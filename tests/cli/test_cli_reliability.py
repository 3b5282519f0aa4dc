"""Reliability with real processes: a CLI killed mid-wait, a local supervisor killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cli_process import CliRunner, error_lines
from .test_cli_local import json_of, submit, wait_for_state


@pytest.fixture(autouse=True)
def _stop_everything(cli: CliRunner) -> Iterator[None]:
    """Leave no app running behind a failed test."""
    yield
    cli("cancel", "--all", "--grace-period", "0")


def gated_script(gate: Path) -> str:
    """A shell script printing its handle, then running until ``gate`` exists."""
    return f'echo "$TORCHRUN_CORE_APP_HANDLE"; while [ ! -e "{gate}" ]; do sleep 0.05; done'


def test_kill_9_of_the_cli_during_run_wait_leaves_the_app_and_its_record(
    cli: CliRunner, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    waiting = subprocess.Popen(
        [sys.executable, "-m", "torchrun_core", "run", "--wait", "utils.sh", gated_script(gate)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert waiting.stdout is not None
        handle = waiting.stdout.readline().strip()  # streamed from the running app
        assert handle.startswith("local://default/"), waiting.stderr
    finally:
        waiting.kill()  # SIGKILL: no cleanup of any kind runs in the CLI
        waiting.communicate(timeout=30)
    assert waiting.returncode == -signal.SIGKILL
    status = json_of(cli, "status", handle)
    assert isinstance(status, dict) and status["state"] == "RUNNING"
    record = json_of(cli, "describe", handle)
    assert isinstance(record, dict)
    assert record["app"]["name"] == "sh" and record["state"] == "RUNNING"
    gate.touch()
    done = cli("wait", handle, "--timeout", "60")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{handle} SUCCEEDED\n"
    events = json_of(cli, "events", handle)
    assert isinstance(events, list)
    assert [e["state"] for e in events] == ["SUBMITTED", "RUNNING", "SUCCEEDED"]


def supervisor_pid(state_dir: Path, handle: str) -> int:
    app_id = handle.rsplit("/", 1)[1]
    state = json.loads((state_dir / "local" / "default" / app_id / "state.json").read_text())
    return int(state["supervisor"]["pid"])


def test_kill_9_of_the_supervisor_marks_the_app_failed_with_a_message(
    cli: CliRunner, state_dir: Path, tmp_path: Path
) -> None:
    handle = submit(cli, "utils.sh", gated_script(tmp_path / "never"))
    wait_for_state(cli, handle, "RUNNING")
    pid = supervisor_pid(state_dir, handle)
    os.kill(pid, signal.SIGKILL)
    # No waiting on the pid (not our child): the next state read finds its lock free.
    waited = cli("wait", handle, "--timeout", "60")
    assert waited.returncode == 1
    assert waited.stdout == f"{handle} FAILED\n"
    [line] = error_lines(waited.stderr)
    assert "supervisor died" in line
    status = json_of(cli, "status", handle)
    assert isinstance(status, dict) and status["state"] == "FAILED"
    assert status["message"].startswith(f"supervisor died (pid {pid})")
    listed = json_of(cli, "list")
    assert isinstance(listed, list)
    assert [(r["handle"], r["state"]) for r in listed] == [(handle, "FAILED")]
    events = json_of(cli, "events", handle)
    assert isinstance(events, list) and events[-1]["state"] == "FAILED"
    assert "supervisor died" in events[-1]["message"]
    # Nothing is left to stop, and the dead app can be deleted.
    assert cli("cancel", handle).returncode == 0
    assert cli("delete", handle).returncode == 0
