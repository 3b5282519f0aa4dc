"""``torchrun-core rerun`` end to end on the local scheduler, each command a separate process."""

from __future__ import annotations

import json

import pytest

from .cli_process import CliRunner, error_lines


def _run(cli: CliRunner, *args: str) -> str:
    proc = cli("run", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()[-1]


def _describe(cli: CliRunner, handle: str) -> dict[str, object]:
    proc = cli("describe", "--json", handle)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def test_rerun_with_overrides_is_a_child_of_the_old_run(cli: CliRunner) -> None:
    old = _run(cli, "--wait", "--cfg", "grace_period=2", "utils.echo", "--msg", "again")
    proc = cli(
        "rerun", "--replicas", "echo=2", "--resource", "echo.memMB=512", "--wait", old
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    new = lines[-1]
    assert new.startswith("local://default/echo-") and new != old
    assert sorted(lines[:-1]) == ["echo/0 again", "echo/1 again"]  # 2 replicas really ran
    record = _describe(cli, new)
    assert record["parent_run_id"] == old
    assert record["cfg"]["grace_period"] == 2.0  # type: ignore[index]
    role = record["app"]["roles"][0]  # type: ignore[index]
    assert (role["num_replicas"], role["resource"]["memory_mb"], role["args"]) == (
        2,
        512,
        ["again"],
    )


def test_rerun_prints_the_new_handle_and_dryrun_submits_nothing(cli: CliRunner) -> None:
    old = _run(cli, "utils.echo", "--msg", "x")
    dry = cli("rerun", "--dryrun", "--replicas", "3", old)
    assert dry.returncode == 0, dry.stderr
    assert "3 replica(s)" in dry.stdout and f"TORCHRUN_CORE_PARENT_RUN_ID={old}" in dry.stdout
    as_json = cli("rerun", "--dryrun", "--json", old)
    env = json.loads(as_json.stdout)["app"]["roles"][0]["env"]
    assert env["TORCHRUN_CORE_PARENT_RUN_ID"] == old
    listed = cli("list", "--json")
    assert [r["handle"] for r in json.loads(listed.stdout)] == [old]
    proc = cli("rerun", old)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("local://default/echo-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["local://default/nope-1"], "no app local://default/nope-1"),
        (["not-a-handle"], "malformed app handle"),
        (["--replicas", "echo=many", "OLD"], "bad --replicas 'echo=many'"),
        (["--replicas", "trainer=2", "OLD"], "has no role 'trainer'; its roles: echo"),
        (["--resource", "echo.vram=1", "OLD"], "roles[0].resource.vram"),
        (["--resource", "gpu", "OLD"], "bad --resource 'gpu'"),
        (["--env", "NOEQUALS", "OLD"], "bad --env 'NOEQUALS'"),
        (["--cfg", "no_such_option=1", "OLD"], "no_such_option"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    cli: CliRunner, args: list[str], message: str
) -> None:
    old = _run(cli, "utils.echo") if "OLD" in args else ""
    proc = cli("rerun", *[old if a == "OLD" else a for a in args])
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert len(error_lines(proc.stderr)) == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
