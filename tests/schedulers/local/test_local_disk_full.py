"""A full disk under a local app: its supervisor survives, says why, and keeps the state true.

The app's state dir (and so its logs) is a small tmpfs, filled up while the
replica runs: a real ENOSPC, not a mock. Mounting needs root; elsewhere these
tests skip (and fail under CI).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ci_rules import require_engine
from local_apps import app_of, py_role, wait_for, wait_until

from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.specs.state import AppState

ENOSPC = "No space left on device"
# argv: a control dir; waits for its files "full", "room" and "stop" in turn.
REPLICA = """
import os, sys, time
def wait(name):
    while not os.path.exists(os.path.join(sys.argv[1], name)):
        time.sleep(0.01)
print("before", flush=True)
wait("full")
print("lost " * 4000, flush=True)  # 20 kB: no room for it
if sys.argv[2] == "exit":
    sys.exit(0)
wait("room")
while not os.path.exists(os.path.join(sys.argv[1], "stop")):
    print("after", flush=True)
    time.sleep(0.02)
"""


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    require_engine("tmpfs", done.returncode == 0, f"cannot mount a tmpfs: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def disk_sched(small_fs: Path) -> Iterator[LocalScheduler]:
    """A scheduler keeping its apps on ``small_fs``; its apps are cancelled afterwards."""
    sched = LocalScheduler("test", state_dir=str(small_fs / "state"))
    yield sched
    for listed in sched.list():
        sched.cancel(listed.app_id, grace_period=0)


def fill(path: Path) -> None:
    """Write ``path`` until the file system has no room left."""
    chunk = b"\0" * (64 << 10)
    with open(path, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(chunk)


def start(sched: LocalScheduler, small_fs: Path, tmp_path: Path, mode: str) -> tuple[str, Path]:
    control = tmp_path / "control"
    control.mkdir()
    app = app_of(py_role(REPLICA, args=[str(control), mode]))
    app_id = sched.schedule(sched.dryrun(app, {"grace_period": 1}))
    wait_until(lambda: list(sched.log_iter(app_id, "r", 0)) == ["before\n"], what="before")
    fill(small_fs / "filler")
    (control / "full").touch()
    return app_id, control


def check_records(sched: LocalScheduler, app_id: str, small_fs: Path) -> None:
    """supervisor.log says why the log has a gap; no temporary file is left anywhere."""
    app_dir = sched.session_dir / app_id
    assert ENOSPC in (app_dir / "supervisor.log").read_text()
    assert [p.name for p in small_fs.rglob("*.tmp")] == []


def test_the_end_is_recorded_on_a_disk_that_stays_full(
    disk_sched: LocalScheduler, small_fs: Path, tmp_path: Path
) -> None:
    sched = disk_sched
    app_id, _ = start(sched, small_fs, tmp_path, "exit")
    status = wait_for(sched, app_id)
    # Not "supervisor died": the replica's own exit, and why its log is short.
    assert status.state is AppState.SUCCEEDED, status
    replica = status.roles[0].replicas[0]
    assert replica.exit_code == 0
    assert ENOSPC in replica.message
    assert list(sched.log_iter(app_id, "r", 0)) == ["before\n"]
    check_records(sched, app_id, small_fs)


def test_logs_resume_with_the_gap_marked_once_there_is_room(
    disk_sched: LocalScheduler, small_fs: Path, tmp_path: Path
) -> None:
    sched = disk_sched
    app_id, control = start(sched, small_fs, tmp_path, "wait")

    def recorded() -> bool:
        status = sched.describe(app_id)
        return status is not None and ENOSPC in status.roles[0].replicas[0].message

    wait_until(recorded, what="the failed log write in the app's state")
    assert sched.describe(app_id).state is AppState.RUNNING  # type: ignore[union-attr]
    os.unlink(small_fs / "filler")
    (control / "room").touch()
    wait_until(lambda: "after\n" in sched.log_iter(app_id, "r", 0), what="output after the gap")
    (control / "stop").touch()
    assert wait_for(sched, app_id).state is AppState.SUCCEEDED
    lines = list(sched.log_iter(app_id, "r", 0))
    assert lines[0] == "before\n"
    assert lines[1].startswith("torchrun-core: ")
    assert lines[1].endswith(f"bytes of output lost here (cannot write the log: {ENOSPC})\n")
    assert set(lines[2:]) == {"after\n"}
    check_records(sched, app_id, small_fs)
