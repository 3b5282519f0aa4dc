"""``wait`` on a TTY shows the job's progress; off a TTY it prints nothing extra."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from torchrun_core.cli.wait_progress import describe
from torchrun_core.tracking.records import MetricPoint

JOB = textwrap.dedent(
    """
    import time
    from torchrun_core.tracking import app_run

    run = app_run()
    for step in range(1, 31):
        run.report_progress("epoch", step, 30, "epochs")
        time.sleep(0.1)
    """
)


def test_describe_with_and_without_progress() -> None:
    assert describe("RUNNING", None) == {
        "description": "RUNNING",
        "total": None,
        "completed": 0,
        "units": "",
    }
    point = MetricPoint("train", 3, None, 0.0, "r/0", "progress", 10, "steps")
    shown = describe("RUNNING", point)
    assert shown["description"] == "train (RUNNING)"
    assert (shown["total"], shown["completed"], shown["units"]) == (10, 3, "3/10 steps")
    unbounded = MetricPoint("read", 7, None, 0.0, "r/0", "progress", None, None)
    assert describe("RUNNING", unbounded)["units"] == "7/?"


def read_all(fd: int, proc: subprocess.Popen[str], limit_s: float = 90) -> bytes:
    """Everything written to the pty until the process ends (never blocks past ``limit_s``)."""
    out = b""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the other side closed
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out


CLI = [sys.executable, "-m", "torchrun_core"]


def start_job(tmp_path: Path, code: str) -> str:
    """Launch ``code`` as a local utils.python app; its handle."""
    script = tmp_path / "job.py"
    script.write_text(code)
    ran = subprocess.run(
        [*CLI, "run", "utils.python", "--script", str(script)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return ran.stdout.split()[0]


def wait_on_a_tty(handle: str, timeout: str) -> tuple[int, str, str]:
    """``wait`` with stderr on a pty: its exit code, its stdout, and what it drew."""
    leader, follower = pty.openpty()
    wait = subprocess.Popen(
        [*CLI, "wait", handle, "--timeout", timeout],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(follower)
    try:
        drawn = read_all(leader, wait).decode(errors="replace")
        stdout, _ = wait.communicate(timeout=30)
    finally:
        os.close(leader)
    return wait.returncode, stdout, drawn


def test_wait_on_a_tty_draws_the_progress_bar(tmp_path: Path) -> None:
    handle = start_job(tmp_path, JOB)
    code, stdout, drawn = wait_on_a_tty(handle, "80")
    assert code == 0
    assert stdout == f"{handle} SUCCEEDED\n"
    assert "epoch (RUNNING)" in drawn
    assert "/30 epochs" in drawn


def test_wait_off_a_tty_prints_only_the_result(tmp_path: Path) -> None:
    handle = start_job(tmp_path, JOB.replace("range(1, 31)", "range(1, 3)"))
    waited = subprocess.run(
        [*CLI, "wait", handle, "--timeout", "60"],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert (waited.returncode, waited.stderr) == (0, "")
    assert waited.stdout.endswith("SUCCEEDED\n")


def test_wait_on_a_tty_times_out_with_the_whole_timeout(tmp_path: Path) -> None:
    handle = start_job(tmp_path, "import time\ntime.sleep(60)\n")
    try:
        code, stdout, drawn = wait_on_a_tty(handle, "1.2")
    finally:
        subprocess.run([*CLI, "cancel", handle], timeout=60)
    assert code == 1 and stdout == ""
    assert f"error: app {handle} is still RUNNING after 1.2 s" in drawn
