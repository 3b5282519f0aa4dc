"""The CLI against a real dockerd, each command in its own process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from docker_apps import BUSYBOX

pytestmark = pytest.mark.docker


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torchrun_core", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_status_and_list_from_other_processes(default_session: str) -> None:
    script = 'echo started; [ "$TORCHRUN_CORE_REPLICA_ID" = 1 ] && exit 0; sleep 300'
    run = cli("run", "-s", "docker", "utils.sh", "--image", BUSYBOX, "--num_replicas", "2",
              script)  # fmt: skip
    assert run.returncode == 0, run.stderr
    handle = run.stdout.splitlines()[-1]
    assert handle.startswith("docker://")

    waited = cli("wait", "--state", "RUNNING", "--timeout", "60", handle)
    assert waited.returncode == 0, waited.stderr
    status = cli("status", "--json", handle)
    assert status.returncode == 0, status.stderr
    assert '"state": "RUNNING"' in status.stdout

    listed = cli("list", "-s", "docker")
    assert listed.returncode == 0, listed.stderr
    assert handle in listed.stdout

    cancelled = cli("cancel", handle)
    assert cancelled.returncode == 0, cancelled.stderr
    status = cli("status", handle)
    assert "CANCELLED" in status.stdout


def test_run_wait_streams_output_and_exit_code(default_session: str) -> None:
    ok = cli("run", "-s", "docker", "--wait", "utils.echo", "--image", BUSYBOX, "--msg", "hi there")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0].endswith("hi there")
    bad = cli("run", "-s", "docker", "--wait", "utils.sh", "--image", BUSYBOX, "exit 9")
    assert bad.returncode == 1
    assert "exited with 9" in bad.stderr


def test_daemon_down_is_one_line_without_traceback(tmp_path: Path) -> None:
    down = {"DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"}
    for args in (
        ["run", "-s", "docker", "utils.echo", "--image", BUSYBOX],
        ["status", "docker://default/echo-12345678"],
        ["log", "docker://default/echo-12345678"],
        ["cancel", "docker://default/echo-12345678"],
    ):
        proc = cli(*args, env=down)
        assert proc.returncode == 1, (args, proc.stderr)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert errors == [
            f"error: cannot reach the docker daemon at unix://{tmp_path}/no-daemon.sock: "
            "No such file or directory"
        ], (args, proc.stderr)
        assert "Traceback" not in proc.stderr
