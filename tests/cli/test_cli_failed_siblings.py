"""The CLI's one line for a failed app names the cause, and says its siblings were stopped."""

from __future__ import annotations

from .cli_process import CliRunner, error_lines

# Replica 1 fails at once; replica 0 would run on, so it can only end by being stopped.
FAIL_ONE = 'if [ "$TORCHRUN_CORE_REPLICA_ID" = 1 ]; then exit 3; fi; sleep 60'


def test_run_wait_says_the_sibling_was_stopped(cli: CliRunner) -> None:
    proc = cli("run", "--wait", "utils.sh", "--num_replicas", "2", FAIL_ONE)
    assert proc.returncode == 1
    handle = proc.stdout.splitlines()[-1]
    errors = error_lines(proc.stderr)
    assert errors == [
        f"error: app {handle} FAILED: sh/1 exited with 3; sh/0 was stopped after sh/1 failed"
    ], proc.stderr


def test_wait_says_the_sibling_was_stopped(cli: CliRunner) -> None:
    proc = cli("run", "utils.sh", "--num_replicas", "2", FAIL_ONE)
    handle = proc.stdout.splitlines()[-1]
    waited = cli("wait", handle)
    assert waited.returncode == 1
    [error] = error_lines(waited.stderr)
    assert error.startswith(
        f"error: app {handle} failed: sh/1 exited with 3; sh/0 was stopped after sh/1 failed"
    )
    assert "None" not in waited.stderr
