"""A plugin that loads but is partly broken, and the messages about it (issue 13, items 11, 12, 14).

Like ``test_cli_plugins``, each test puts tiny distributions on the child
process's ``PYTHONPATH``: ``acme_plugin`` provides a scheduler whose module is
missing, one whose factory returns no Scheduler, a healthy component, one
whose file has a syntax error, a misspelled hook and a hook without
``@hookimpl``; ``acme`` fails to import.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .cli_process import CliRunner
from .test_cli_plugins import write_dist

ACME = '''
from torchrun_core import AppDef, Role, hookimpl


@hookimpl
def torchrun_core_schedulers():
    return {"acme_missing": "acme_missing_module:AcmeScheduler", "acme_bogus": "acme_plugin:bogus"}


@hookimpl
def torchrun_core_components():
    return {"acme.hello": "acme_plugin:hello", "acme.bad": "acme_syntax:hello"}


@hookimpl
def torchrun_core_scheduler():  # misspelled: never called
    return {"acme_typo": "acme_plugin:bogus"}


def torchrun_core_named_resources():  # no @hookimpl: never called
    return {}


def bogus(session: str = "", **kwargs: object) -> object:
    return object()


def hello(msg: str = "hi") -> AppDef:
    """Say hello."""
    return AppDef(name="hello", roles=[Role(name="h", entrypoint="echo", args=[msg])])
'''


@pytest.fixture
def acme_env(tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "site"
    root.mkdir()
    write_dist(root, "acme_plugin", ACME)
    (root / "acme_syntax.py").write_text("def hello(:\n    pass\n")
    write_dist(root, "acme", "raise ImportError('needs libacme')\n")
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path}


# -- item 11: runopts with a broken scheduler ------------------------------------
def test_runopts_shows_the_healthy_schedulers_and_one_line_per_broken_one(
    cli: CliRunner, acme_env: dict[str, str]
) -> None:
    proc = cli("runopts", env=acme_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "local:" in lines and "docker:" in lines
    (missing,) = [line for line in lines if line.startswith("acme_missing:")]
    assert "cannot show its options" in missing and "acme_missing_module" in missing
    (bogus,) = [line for line in lines if line.startswith("acme_bogus:")]
    assert "not a torchrun_core.scheduler.Scheduler" in bogus
    data = json.loads(cli("runopts", "--json", env=acme_env).stdout)
    assert isinstance(data["local"], list) and data["local"]
    assert "acme_missing_module" in data["acme_missing"]["error"]
    # Asked by name, a broken scheduler is still an error.
    assert cli("runopts", "acme_missing", env=acme_env).returncode == 2


# -- item 12: hooks that are never called ---------------------------------------
def test_plugins_reports_misspelled_and_unmarked_hooks(
    cli: CliRunner, acme_env: dict[str, str]
) -> None:
    proc = cli("plugins", env=acme_env)
    assert proc.returncode == 0, proc.stderr
    assert (
        "  acme_plugin: unknown hook torchrun_core_scheduler "
        "(did you mean torchrun_core_schedulers?): it is never called"
    ) in proc.stdout.splitlines()
    assert (
        "  acme_plugin: torchrun_core_named_resources lacks @torchrun_core.hookimpl: "
        "it is never called"
    ) in proc.stdout.splitlines()
    data = json.loads(cli("plugins", "--json", env=acme_env).stdout)
    problems = [p for p in data["hook_problems"] if p["name"] == "acme_plugin"]
    assert len(problems) == 2


def test_a_misspelled_hook_is_a_one_line_warning_on_any_command(
    cli: CliRunner, acme_env: dict[str, str]
) -> None:
    proc = cli("run", "--dryrun", "utils.echo", env=acme_env)
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert (
        "warning: plugin 'acme_plugin': unknown hook torchrun_core_scheduler "
        "(did you mean torchrun_core_schedulers?): it is never called"
    ) in warned
    assert "PluginWarning" not in proc.stderr  # one line, not Python's two


# -- item 14: messages ------------------------------------------------------------
def last_line(proc_stderr: str, prefix: str) -> str:
    (line,) = [x for x in proc_stderr.splitlines() if x.startswith(prefix)]
    return line


def test_misplaced_run_option_hint_keeps_its_value(
    cli: CliRunner, acme_env: dict[str, str]
) -> None:
    proc = cli("run", "acme.hello", "-s", "acme_bogus", "--cfg", "a=1", env=acme_env)
    assert proc.returncode == 2
    assert last_line(proc.stderr, "hint:") == (
        "hint: options of run itself go before the component: "
        "torchrun-core run -s acme_bogus --cfg a=1 acme.hello ..."
    )


def test_help_of_a_component_file_with_a_syntax_error_hints_at_the_syntax(
    cli: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def main(:\n    pass\n")
    proc = cli("run", f"{path}:main", "--help")
    assert proc.returncode == 2
    assert last_line(proc.stderr, "error:") == f"error: {path}:1: syntax error: invalid syntax"
    assert "py_compile" in last_line(proc.stderr, "hint:")


def test_plugin_component_syntax_error_names_the_file(
    cli: CliRunner, acme_env: dict[str, str], tmp_path: Path
) -> None:
    proc = cli("run", "--dryrun", "acme.bad", env=acme_env)
    assert proc.returncode == 2
    where = tmp_path / "site" / "acme_syntax.py"
    assert f"{where}:1: syntax error: invalid syntax" in last_line(proc.stderr, "error:")


def test_not_a_scheduler_names_the_plugin(cli: CliRunner, acme_env: dict[str, str]) -> None:
    proc = cli("run", "--dryrun", "-s", "acme_bogus", "utils.echo", env=acme_env)
    assert proc.returncode == 2
    assert last_line(proc.stderr, "error:") == (
        "error: scheduler 'acme_bogus' of plugin 'acme_plugin': its factory returned object, "
        "not a torchrun_core.scheduler.Scheduler"
    )
    assert "TORCHRUN_CORE_BLOCK_PLUGINS=acme_plugin" in last_line(proc.stderr, "hint:")


def test_unknown_scheduler_says_its_plugin_failed_to_load(
    cli: CliRunner, acme_env: dict[str, str]
) -> None:
    proc = cli("run", "--dryrun", "-s", "acme", "utils.echo", env=acme_env)
    assert proc.returncode == 2
    assert last_line(proc.stderr, "error:") == (
        "error: unknown scheduler 'acme': plugin 'acme' failed to load: ImportError: needs libacme"
    )


def test_unknown_scheduler_says_its_plugin_is_blocked(
    cli: CliRunner, acme_env: dict[str, str]
) -> None:
    env = {**acme_env, "TORCHRUN_CORE_BLOCK_PLUGINS": "acme_plugin"}
    proc = cli("run", "--dryrun", "-s", "acme_plugin", "utils.echo", env=env)
    assert last_line(proc.stderr, "error:") == (
        "error: unknown scheduler 'acme_plugin': plugin 'acme_plugin' is blocked by "
        "TORCHRUN_CORE_BLOCK_PLUGINS"
    )
    other = cli("run", "--dryrun", "-s", "acme_missing", "utils.echo", env=env)
    error = last_line(other.stderr, "error:")
    assert "'acme_plugin' is blocked by TORCHRUN_CORE_BLOCK_PLUGINS" in error
    assert "'acme' failed to load (ImportError: needs libacme)" in error
