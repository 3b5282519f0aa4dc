"""The CLI's help, fast path and error reporting (no app is started here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from torchrun_core.cli.commands import COMMANDS
from torchrun_core.cli.main import main

from .cli_process import CliRunner, error_lines

# --help must not pay for these (pydantic alone costs ~85 ms).
NOT_ON_HELP = ("pydantic", "pluggy", "rich", "docker", "kubernetes", "paramiko", "torch", "sqlite3")


def modules_after_main(argv: list[str]) -> tuple[int, set[str]]:
    """(exit code, top-level modules in sys.modules) after ``main(argv)`` in a fresh python."""
    code = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        from torchrun_core.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc = main({argv!r})
        mods = sorted({{m.split(".")[0] for m in sys.modules}} | set(sys.modules))
        print(json.dumps([rc, mods]))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    rc, mods = json.loads(proc.stdout.splitlines()[-1])
    return rc, set(mods)


def test_top_level_help_imports_nothing_heavy() -> None:
    rc, loaded = modules_after_main(["--help"])
    assert rc == 0
    assert loaded.isdisjoint(NOT_ON_HELP), sorted(loaded & set(NOT_ON_HELP))
    # No subcommand module is imported for the top-level help.
    assert not any(f"torchrun_core.cli.{name}" in loaded for name in COMMANDS)
    assert "torchrun_core.specs.app" not in loaded


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_subcommand_help_imports_only_its_module(name: str) -> None:
    rc, loaded = modules_after_main([name, "--help"])
    assert rc == 0
    assert loaded.isdisjoint(NOT_ON_HELP), sorted(loaded & set(NOT_ON_HELP))
    others = {f"torchrun_core.cli.{n}" for n in COMMANDS if n != name}
    assert f"torchrun_core.cli.{name}" in loaded
    assert not loaded & others, sorted(loaded & others)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help(cli: CliRunner, name: str) -> None:
    proc = cli(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: torchrun-core {name}")
    assert "--debug" in proc.stdout


def test_top_level_help_lists_every_command(cli: CliRunner) -> None:
    proc = cli("--help")
    assert proc.returncode == 0
    for command in COMMANDS.values():
        assert f"{command.name}  " in proc.stdout and command.help in proc.stdout


def test_console_script_and_version() -> None:
    script = Path(sys.executable).with_name("torchrun-core")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    proc = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0 and proc.stdout.startswith("torchrun-core ")


def test_usage_errors_exit_2_with_one_error_line(cli: CliRunner) -> None:
    for argv in ([], ["bogus"], ["status"], ["wait", "local://a/b", "--timeout", "soon"]):
        proc = cli(*argv)
        assert proc.returncode == 2, argv
        assert "Traceback" not in proc.stderr
        assert len([ln for ln in proc.stderr.splitlines() if "error:" in ln]) == 1, proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "not-a-handle"],
        ["wait", "local:/x"],
        ["describe", "local://default"],
        ["cancel", "nope"],
        ["log", "local://default/app/role/notanumber"],
        ["log", "local://default/app/role/0/extra"],
        ["log", "local://default/app", "--since", "yesterday"],
        ["wait", "local://default/x", "--state", "DONE"],
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(cli: CliRunner, argv: list[str]) -> None:
    proc = cli(*argv)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(error_lines(proc.stderr)) == 1, proc.stderr


def test_malformed_handle_shows_expected_form(cli: CliRunner) -> None:
    proc = cli("status", "not-a-handle")
    assert error_lines(proc.stderr) == ["error: malformed app handle 'not-a-handle'"]
    assert "hint: expected scheduler://session/app_id" in proc.stderr
    assert proc.stdout == ""


def test_unknown_app_exits_2(cli: CliRunner) -> None:
    proc = cli("status", "local://default/never-submitted")
    assert proc.returncode == 2, proc.stderr
    assert len(error_lines(proc.stderr)) == 1 and "Traceback" not in proc.stderr


def test_unknown_scheduler_exit_2_with_hint(cli: CliRunner) -> None:
    for argv in (["run", "-s", "nosuch", "utils.echo"], ["runopts", "nosuch"]):
        proc = cli(*argv)
        assert proc.returncode == 2, proc.stderr
        assert error_lines(proc.stderr) == ["error: unknown scheduler 'nosuch'"]
        assert "hint: installed schedulers:" in proc.stderr


def test_unknown_component_exit_2(cli: CliRunner) -> None:
    proc = cli("run", "--dryrun", "nope.missing")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == ["error: unknown component 'nope.missing'"]
    assert "hint: list them with: torchrun-core builtins" in proc.stderr


def test_bad_component_argument_exit_2_with_usage(cli: CliRunner) -> None:
    proc = cli("run", "--dryrun", "utils.echo", "--num_replicas", "many")
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: torchrun-core run utils.echo")
    assert error_lines(proc.stderr) == [
        "error: component utils.echo: argument --num_replicas: invalid int value: 'many'"
    ]
    assert "Traceback" not in proc.stderr


def test_component_help(cli: CliRunner) -> None:
    proc = cli("run", "utils.echo", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: torchrun-core run utils.echo")
    assert "the message to print (default: hello world)" in proc.stdout


def test_invalid_app_file_names_field(cli: CliRunner, tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text("name: x\nroles:\n- name: r\n  entrypoint: echo\n  num_replicas: 0\n")
    proc = cli("run", "--dryrun", str(app))
    assert proc.returncode == 2, proc.stderr
    assert "roles[0].num_replicas" in error_lines(proc.stderr)[0]


def test_bad_cfg_exit_2(cli: CliRunner) -> None:
    proc = cli("run", "--dryrun", "--cfg", "novalue", "utils.echo")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        "error: bad --cfg 'novalue': expected key=value[,key2=value2...]"
    ]


def test_internal_error_hint_and_debug_traceback(tmp_path: Path) -> None:
    # A subcommand failing with an exception that is not a TorchrunCoreError (a bug).
    code = textwrap.dedent(
        """
        import sys
        import torchrun_core.cli.status as status
        def boom(args):
            raise RuntimeError("kaboom")
        status.execute = boom
        from torchrun_core.cli.main import main
        sys.exit(main(sys.argv[1:]))
        """
    )
    for debug in (False, True):
        argv = ["status", "local://a/b"] + (["--debug"] if debug else [])
        proc = subprocess.run(
            [sys.executable, "-c", code, *argv],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=os.environ.copy(),
        )
        assert proc.returncode == 1
        assert "error: internal error: RuntimeError: kaboom" in proc.stderr
        if debug:
            assert "Traceback" in proc.stderr
        else:
            assert "Traceback" not in proc.stderr
            assert "hint: rerun with --debug for a traceback" in proc.stderr


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["builtins"], 141),  # 128 + SIGPIPE, as a shell reports a process killed by it
        (["plugins", "--json"], 141),
        (["--help"], 0),  # argparse itself ignores the failed write of its help
    ],
)
def test_closed_stdout_pipe_exits_quietly(argv: list[str], code: int) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head` having exited: every write fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "torchrun_core", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == ""
    assert proc.returncode == code


def test_main_returns_exit_codes_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert main(["bogus"]) == 2
    assert main(["status", "oops"]) == 2
    err = capsys.readouterr().err
    assert "error: malformed app handle 'oops'" in err


@pytest.mark.parametrize("command", ["dryrun", "run", "rerun"])
def test_workspace_is_an_option_of_every_submitting_command(cli: CliRunner, command: str) -> None:
    # `dryrun --workspace` was missing while `run --dryrun --workspace` worked.
    proc = cli(command, "--help")
    assert proc.returncode == 0
    assert "--workspace DIR" in proc.stdout
