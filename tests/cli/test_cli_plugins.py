"""``plugins``, ``builtins`` and component look-up with real extra entry-point plugins.

Each test puts a tiny distribution (a ``.dist-info`` with entry points, and its
module) on ``PYTHONPATH`` of the child process: one plugin providing a
component name the builtins already provide, and one that fails to import.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .cli_process import CliRunner

CLASHING = '''
from torchrun_core import AppDef, Role, hookimpl


@hookimpl
def torchrun_core_components():
    return {"utils.echo": "clashing_plugin:echo", "clash.only": "clashing_plugin:echo"}


def echo(msg: str = "x") -> AppDef:
    """A second echo."""
    return AppDef(name="echo2", roles=[Role(name="e", entrypoint="echo", args=["second", msg])])
'''


def write_dist(root: Path, name: str, module_source: str) -> None:
    (root / f"{name}.py").write_text(module_source)
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[torchrun_core]\n{name} = {name}\n")


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    root = tmp_path / "site"
    root.mkdir()
    write_dist(root, "clashing_plugin", CLASHING)
    write_dist(root, "broken_plugin", "raise ImportError('needs libfoo')\n")
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    return {"PYTHONPATH": path}


def test_plugins_reports_conflicts_and_load_errors(
    cli: CliRunner, plugin_env: dict[str, str]
) -> None:
    proc = cli("plugins", env=plugin_env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "clashing_plugin" in out and "components: clash.only, utils.echo" in out
    assert "broken_plugin: ImportError: needs libfoo" in out
    assert "component 'utils.echo': 'clashing_plugin' overrides 'builtin_components'" in out
    assert "conflicts" not in out  # overriding a builtin is allowed
    data = json.loads(cli("plugins", "--json", env=plugin_env).stdout)
    assert {"name": "broken_plugin", "reason": "ImportError: needs libfoo"} in data["load_errors"]
    assert data["conflicts"] == []
    assert data["overrides"] == [
        {
            "kind": "components",
            "name": "utils.echo",
            "plugin": "clashing_plugin",
            "overrides": ["builtin_components"],
        }
    ]


def test_third_party_component_overrides_the_builtin(
    cli: CliRunner, plugin_env: dict[str, str]
) -> None:
    proc = cli("run", "--dryrun", "utils.echo", "--msg", "hi", env=plugin_env)
    assert proc.returncode == 0, proc.stderr
    assert "echo second hi" in proc.stdout
    # The other builtins are not hidden by the extra plugin, nor by the broken one.
    ok = cli("run", "--dryrun", "utils.sh", "true", env=plugin_env)
    assert ok.returncode == 0, ok.stderr


def test_builtins_shows_which_plugin_wins(cli: CliRunner, plugin_env: dict[str, str]) -> None:
    data = json.loads(cli("builtins", "--json", env=plugin_env).stdout)
    rows = {c["name"]: c for c in data}
    assert rows["utils.echo"]["plugin"] == "clashing_plugin"
    assert rows["utils.echo"]["help"] == "A second echo."
    assert rows["utils.echo"]["overrides"] == ["builtin_components"]
    assert rows["utils.sh"]["plugin"] == "builtin_components"


def test_blocked_plugin_is_reported(cli: CliRunner, plugin_env: dict[str, str]) -> None:
    env = {**plugin_env, "TORCHRUN_CORE_BLOCK_PLUGINS": "clashing_plugin"}
    proc = cli("plugins", env=env)
    assert "blocked: clashing_plugin" in proc.stdout
    assert "conflicts" not in proc.stdout
    assert cli("run", "--dryrun", "utils.echo", env=env).returncode == 0
