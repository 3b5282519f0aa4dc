"""Write-ahead on the command line with the local scheduler: an app whose run cannot be
recorded is never launched, and ``run`` says so in one line (exit 1).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from store_lock import store_locked

from .cli_process import CliRunner, error_lines


def check_nothing_ran(proc_stderr: str, state_dir: Path, marker: Path, why: str) -> None:
    assert not list((state_dir / "local").rglob("state.json"))  # no app was made
    assert not marker.exists()  # the command never ran
    errors = error_lines(proc_stderr)
    assert len(errors) == 1, proc_stderr
    assert errors[0].startswith("error: sh was not launched: its run could not be recorded: ")
    assert why in errors[0]
    assert "hint: " in proc_stderr and "Traceback" not in proc_stderr


@pytest.mark.slow  # waits out the store's 30 s busy timeout
def test_run_with_the_store_locked_by_another_process_launches_nothing(
    cli: CliRunner, state_dir: Path, tmp_path: Path
) -> None:
    assert cli("list").returncode == 0  # the store exists
    marker = tmp_path / "ran"
    with store_locked(state_dir / "runs.sqlite"):
        proc = cli("run", "-s", "local", "utils.sh", f"touch {marker}", timeout=90)
    assert proc.returncode == 1, proc.stderr
    check_nothing_ran(proc.stderr, state_dir, marker, "database is locked")
    assert "another process kept the run store locked" in proc.stderr
    listed = cli("list")
    assert listed.returncode == 0 and "local://" not in listed.stdout


def test_run_with_a_corrupt_store_launches_nothing(
    cli: CliRunner, state_dir: Path, tmp_path: Path
) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "runs.sqlite").write_bytes(b"not a database, " * 512)
    marker = tmp_path / "ran"
    proc = cli("run", "-s", "local", "utils.sh", f"touch {marker}")
    assert proc.returncode == 1, proc.stderr
    check_nothing_ran(proc.stderr, state_dir, marker, "file is not a database")
    assert (state_dir / "runs.sqlite").read_bytes() == b"not a database, " * 512
