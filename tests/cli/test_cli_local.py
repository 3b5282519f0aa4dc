"""The CLI end to end with real apps on the local scheduler, each command a separate process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .cli_process import CliRunner, error_lines, run_cli


def submit(cli: CliRunner, *args: str) -> str:
    """Run an app without waiting; returns its handle (the last line of stdout)."""
    proc = cli("run", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[-1]


def json_of(cli: CliRunner, *args: str) -> object:
    proc = cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_for_state(cli: CliRunner, handle: str, state: str) -> None:
    proc = cli("wait", handle, "--state", state, "--timeout", "30")
    assert proc.returncode == 0, proc.stderr


def test_run_wait_echo_prints_the_message_every_time(cli: CliRunner) -> None:
    for i in range(20):
        proc = cli("run", "--wait", "utils.echo", "--msg", f"hi {i}")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == f"hi {i}", (i, proc.stdout, proc.stderr)
        assert len(lines) == 2 and lines[-1].startswith("local://default/"), proc.stdout


def test_run_wait_prefixes_lines_when_several_replicas(cli: CliRunner) -> None:
    proc = cli("run", "--wait", "utils.echo", "--msg", "hey", "--num_replicas", "3")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sorted(lines[:-1]) == ["echo/0 hey", "echo/1 hey", "echo/2 hey"]


def test_run_wait_prints_every_line_of_a_chatty_app(cli: CliRunner) -> None:
    script = "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done"
    proc = cli("run", "--wait", "utils.sh", script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:-1] == [f"line-{i}" for i in range(2000)]


def test_run_wait_failing_app_exits_1(cli: CliRunner) -> None:
    proc = cli("run", "--wait", "utils.sh", "echo before; exit 3")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    handle = lines[-1]
    assert lines[0] == "before" and handle.startswith("local://default/sh-")
    errors = error_lines(proc.stderr)
    assert len(errors) == 1 and errors[0].startswith(f"error: app {handle} FAILED"), proc.stderr
    assert "exited with 3" in errors[0]
    assert "Traceback" not in proc.stderr


def test_run_prints_handle_and_other_processes_see_the_app(cli: CliRunner) -> None:
    handle = submit(cli, "utils.sh", "echo out; echo err >&2; echo out2")
    assert handle.startswith("local://default/sh-")
    assert cli("wait", handle).stdout == f"{handle} SUCCEEDED\n"
    status = cli("status", handle)
    assert status.returncode == 0 and "state:    SUCCEEDED" in status.stdout
    assert "sh/0" in status.stdout
    assert sorted(cli("log", handle).stdout.splitlines()) == ["err", "out", "out2"]
    assert cli("log", handle, "--streams", "stdout").stdout == "out\nout2\n"
    assert cli("log", handle, "--streams", "stderr").stdout == "err\n"
    assert cli("log", f"{handle}/sh/0", "--regex", "^out").stdout == "out\nout2\n"
    assert cli("log", f"{handle}/sh", "--since", "1h", "--streams", "stdout").stdout == (
        "out\nout2\n"
    )
    assert cli("log", handle, "--until", "1h", "--streams", "stdout").stdout == ""
    listed = cli("list")
    assert handle in listed.stdout and "SUCCEEDED" in listed.stdout
    described = cli("describe", handle)
    assert described.returncode == 0
    assert f"handle:     {handle}" in described.stdout and "events:" in described.stdout


def test_log_unknown_role_exit_2(cli: CliRunner) -> None:
    handle = submit(cli, "utils.echo")
    proc = cli("log", f"{handle}/nosuchrole")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [f"error: app {handle} has no role 'nosuchrole'"]


def test_cancel_and_wait_from_other_processes(cli: CliRunner) -> None:
    handle = submit(cli, "utils.sh", "sleep 60")
    wait_for_state(cli, handle, "RUNNING")
    timed_out = cli("wait", handle, "--timeout", "0.2")
    assert timed_out.returncode == 1 and "Traceback" not in timed_out.stderr
    assert len(error_lines(timed_out.stderr)) == 1
    cancelled = cli("cancel", handle)
    assert cancelled.returncode == 0 and cancelled.stdout == f"cancelled {handle}\n"
    waited = cli("wait", handle, "--timeout", "30")
    assert waited.returncode == 1
    assert waited.stdout == f"{handle} CANCELLED\n"
    assert error_lines(waited.stderr) == [f"error: app {handle} was cancelled"]
    assert cli("cancel", handle).returncode == 0  # idempotent
    assert cli("wait", handle, "--state", "CANCELLED").returncode == 0


def test_cancel_several_reports_each_failure(cli: CliRunner) -> None:
    handle = submit(cli, "utils.echo")
    proc = cli("cancel", "local://default/never-was", handle, "bad-handle")
    assert proc.returncode == 2
    assert proc.stdout == f"cancelled {handle}\n"
    assert len(error_lines(proc.stderr)) == 2


def test_json_outputs_parse(cli: CliRunner) -> None:
    handle = submit(cli, "utils.echo", "--msg", "j")
    waited = json_of(cli, "wait", handle)
    assert isinstance(waited, dict) and waited["state"] == "SUCCEEDED"
    status = json_of(cli, "status", handle)
    assert isinstance(status, dict) and status["roles"][0]["replicas"][0]["exit_code"] == 0
    listed = json_of(cli, "list")
    assert isinstance(listed, list) and [r["handle"] for r in listed] == [handle]
    assert json_of(cli, "list", "--state", "FAILED") == []
    assert len(json_of(cli, "list", "--state", "SUCCEEDED", "--since", "1h")) == 1  # type: ignore[arg-type]
    described = json_of(cli, "describe", handle)
    assert isinstance(described, dict) and described["app"]["name"] == "echo"
    assert [e["state"] for e in described["events"]][-1] == "SUCCEEDED"
    runopts = json_of(cli, "runopts")
    assert isinstance(runopts, dict) and "local" in runopts
    assert all({"name", "type", "default", "help"} <= set(o) for o in runopts["local"])
    plugins = json_of(cli, "plugins")
    assert isinstance(plugins, dict) and {"plugins", "load_errors", "conflicts"} <= set(plugins)
    builtins = json_of(cli, "builtins")
    assert isinstance(builtins, list)
    assert {"name": "utils.echo", "plugin": "builtin_components", "help": (
        "Print a message from every replica."
    ), "overrides": [], "conflict": []} in builtins  # fmt: skip


def test_dryrun_redacts_secrets_and_submits_nothing(cli: CliRunner) -> None:
    component = ("utils.sh", "--env", "MY_TOKEN=abc123,PLAIN=visible", "echo", "hi")
    proc = cli("run", "--dryrun", *component)
    assert proc.returncode == 0, proc.stderr
    assert "abc123" not in proc.stdout + proc.stderr
    assert "visible" in proc.stdout and "echo hi" in proc.stdout
    as_json = cli("run", "--dryrun", "--json", *component)
    assert as_json.returncode == 0 and "abc123" not in as_json.stdout
    data = json.loads(as_json.stdout)
    assert data["scheduler"] == "local" and data["app"]["roles"][0]["env"]["PLAIN"] == "visible"
    assert json_of(cli, "list") == []


def test_describe_redacts_secrets(cli: CliRunner) -> None:
    handle = submit(cli, "utils.sh", "--env", "API_KEY=abc123", "true")
    for argv in (("describe", handle), ("describe", handle, "--json"), ("list", "--json")):
        proc = cli(*argv)
        assert proc.returncode == 0 and "abc123" not in proc.stdout, argv


def test_unknown_run_option_exit_2(cli: CliRunner) -> None:
    proc = cli("run", "--cfg", "no_such_option=1", "utils.echo")
    assert proc.returncode == 2
    assert "no_such_option" in error_lines(proc.stderr)[0]
    assert "hint: see the options with: torchrun-core runopts local" in proc.stderr


def test_run_app_file_and_file_component(cli: CliRunner, tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text("name: fromfile\nroles:\n- name: r\n  entrypoint: echo\n  args: [from, file]\n")
    proc = cli("run", "--wait", str(app))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "from file"
    (tmp_path / "mine.py").write_text(
        "from torchrun_core import AppDef, Role\n\n"
        "def hello(who: str) -> AppDef:\n"
        "    return AppDef(name='mine', roles=[Role(name='m', entrypoint='echo', args=[who])])\n"
    )
    proc = run_cli("run", "--wait", "mine.py:hello", "--who", "you", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "you"
    proc = cli("run", str(app), "--extra")
    assert proc.returncode == 2 and "takes no arguments" in proc.stderr


def test_parent_run_id_reaches_the_app(cli: CliRunner) -> None:
    proc = cli(
        "run", "--wait", "--parent-run-id", "p-123", "utils.sh", "echo $TORCHRUN_CORE_PARENT_RUN_ID"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "p-123"


def test_log_follow_streams_a_running_app(cli: CliRunner) -> None:
    handle = submit(cli, "utils.sh", "for i in 1 2 3; do echo n$i; sleep 0.2; done")
    proc = cli("log", "-f", handle)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "n1\nn2\nn3\n"


def test_log_pipe_to_head_is_quiet(tmp_path: Path) -> None:
    handle = submit(run_cli, "utils.sh", "seq 1 200000")
    assert run_cli("wait", handle).returncode == 0
    cmd = f"{sys.executable} -m torchrun_core log {handle} | head -n 2"
    proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert proc.stdout == "1\n2\n"
    assert proc.stderr == ""


def test_interrupted_run_wait_leaves_the_app_running(cli: CliRunner) -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "torchrun_core",
            "run",
            "--wait",
            "utils.sh",
            "echo started; sleep 60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "started\n"  # the app runs and is being streamed
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130
    assert "Traceback" not in err
    (handle,) = [w for w in err.split() if w.startswith("local://")][:1]
    assert f"torchrun-core cancel {handle}" in err
    status = json_of(cli, "status", handle)
    assert isinstance(status, dict) and status["state"] == "RUNNING"
    assert cli("cancel", handle).returncode == 0
    deadline = time.monotonic() + 30
    while json_of(cli, "status", handle)["state"] != "CANCELLED":  # type: ignore[index]
        assert time.monotonic() < deadline
        time.sleep(0.1)


@pytest.mark.parametrize("argv", [["runopts"], ["runopts", "local"], ["plugins"], ["builtins"]])
def test_reading_commands_in_text(cli: CliRunner, argv: list[str]) -> None:
    proc = cli(*argv)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    if argv[0] == "builtins":
        assert "utils.echo" in proc.stdout and "Print a message from every replica." in proc.stdout
    if argv[0] == "plugins":
        assert "local" in proc.stdout and "builtin_components" in proc.stdout
