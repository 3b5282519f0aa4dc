"""Component discovery with real plugins: files first, then third-party plugins, then builtins.

Extra plugins are made at test time as a module plus a ``.dist-info``
directory on ``PYTHONPATH`` of a child process, which entry-point discovery
finds exactly like an installed distribution. The example plugin
(tests/plugin_dist) is really installed.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ci_rules import require_installed

from torchrun_core.component_loading.discovery import (
    builtin_plugins,
    component_table,
    find_component,
)
from torchrun_core.component_loading.loader import build_app
from torchrun_core.errors import ComponentError
from torchrun_core.hookspecs import hookimpl
from torchrun_core.registry import PluginRegistry

CLI = [sys.executable, "-m", "torchrun_core"]

OVERRIDE_ECHO = '''
from torchrun_core import AppDef, Role, hookimpl


@hookimpl
def torchrun_core_components():
    return {"utils.echo": "{module}:echo", "shared.name": "{module}:echo"}


def echo(msg: str = "x") -> AppDef:
    """Echo, as {module} does it."""
    return AppDef(name="echo", roles=[Role(name="e", entrypoint="echo", args=["{module}", msg])])
'''


def make_plugin(site: Path, module: str, source: str = OVERRIDE_ECHO) -> None:
    """A distribution ``module`` whose entry point registers module ``module`` as a plugin."""
    site.mkdir(parents=True, exist_ok=True)
    code = textwrap.dedent(source).replace("{module}", module)
    (site / f"{module}.py").write_text(code, encoding="utf-8")
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(f"[torchrun_core]\n{module} = {module}\n")


def run(
    argv: list[str], site: Path | None, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, **env)
    if site is not None:
        full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), full.get("PYTHONPATH")]))
    return subprocess.run(
        argv, capture_output=True, text=True, env=full, timeout=60, cwd=cwd,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def dryrun_args(proc: subprocess.CompletedProcess[str]) -> str:
    """The dry run output (the planned command lines)."""
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


# -- in-process: the installed example plugin and the builtins ---------------------


def test_builtin_plugins_are_those_of_the_torchrun_core_distribution(
    fresh_registry: PluginRegistry,
) -> None:
    assert {"builtin_components", "local"} <= builtin_plugins(fresh_registry)
    assert "example" not in builtin_plugins(fresh_registry)


def test_example_plugin_component_is_found(fresh_registry: PluginRegistry) -> None:
    try:
        importlib.metadata.distribution("torchrun-core-example-plugin")
        found = True
    except importlib.metadata.PackageNotFoundError:
        found = False
    require_installed("torchrun-core-example-plugin", found, "pip install ./tests/plugin_dist")
    provider = find_component("example.hello", fresh_registry)
    assert provider.plugin == "example"
    app = build_app("example.hello", ["--name", "you"], fresh_registry)
    assert app.roles[0].args == ["hello you from replica ${replica_id}"]
    assert component_table(fresh_registry)["utils.echo"].winner.plugin == "builtin_components"  # type: ignore[union-attr]


class _InProcessPlugin:
    """A plugin registered in-process: no distribution, so it counts as third-party."""

    @hookimpl
    def torchrun_core_components(self) -> dict[str, str]:
        return {"utils.echo": "torchrun_core.components.utils:sh"}


def test_in_process_plugin_overrides_and_lookups_follow_registration(
    fresh_registry: PluginRegistry,
) -> None:
    before = build_app("utils.echo", ["--msg", "m"], fresh_registry)
    assert before.roles[0].entrypoint == "echo"
    fresh_registry.register(_InProcessPlugin(), name="inproc")
    entry = component_table(fresh_registry)["utils.echo"]
    assert entry.winner is not None and entry.winner.plugin == "inproc"
    assert [p.plugin for p in entry.overridden] == ["builtin_components"]
    # The cached builtin is not reused: the override (utils.sh) builds now.
    after = build_app("utils.echo", ["x"], fresh_registry)
    assert after.roles[0].entrypoint == "sh" and after.roles[0].args == ["-c", "x"]


def test_unknown_component_names_the_hint(fresh_registry: PluginRegistry) -> None:
    with pytest.raises(ComponentError, match=r"^unknown component 'no\.such'$") as info:
        find_component("no.such", fresh_registry)
    assert info.value.hint == "list them with: torchrun-core builtins"


# -- child processes with real extra distributions ------------------------------------


def test_third_party_plugin_overrides_a_builtin(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_plugin(site, "override_one")
    out = dryrun_args(run([*CLI, "run", "--dryrun", "utils.echo", "--msg", "hi"], site))
    assert "echo override_one hi" in out
    # Blocking the plugin brings the builtin back.
    blocked = run([*CLI, "run", "--dryrun", "utils.echo", "--msg", "hi"], site,
                  TORCHRUN_CORE_BLOCK_PLUGINS="override_one")  # fmt: skip
    assert "override_one" not in dryrun_args(blocked) and "echo hi" in blocked.stdout


def test_builtins_shows_the_winner_and_what_it_overrides(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_plugin(site, "override_one")
    proc = run([*CLI, "builtins", "--json"], site)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert rows["utils.echo"] == {
        "name": "utils.echo",
        "plugin": "override_one",
        "help": "Echo, as override_one does it.",
        "overrides": ["builtin_components"],
        "conflict": [],
    }
    assert rows["utils.sh"]["plugin"] == "builtin_components"
    text = run([*CLI, "builtins"], site).stdout
    (line,) = [ln for ln in text.splitlines() if ln.startswith("utils.echo ")]
    assert "override_one (overrides builtin_components)" in line


def test_two_third_party_plugins_conflict_naming_both(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_plugin(site, "override_one")
    make_plugin(site, "override_two")
    for name in ("utils.echo", "shared.name"):
        proc = run([*CLI, "run", "--dryrun", name], site)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.splitlines()
        assert lines[0].startswith(f"error: component {name!r} is provided by several plugins: ")
        assert "'override_one'" in lines[0] and "'override_two'" in lines[0]
        assert lines[1].startswith("hint: uninstall one, or block one with")
        assert "Traceback" not in proc.stderr
    # Other components still work, and builtins lists the conflict instead of failing.
    assert "echo hi" in dryrun_args(run([*CLI, "run", "--dryrun", "utils.sh", "echo hi"], site))
    listing = run([*CLI, "builtins", "--json"], site)
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)}
    assert rows["utils.echo"]["plugin"] is None
    assert sorted(rows["utils.echo"]["conflict"]) == ["override_one", "override_two"]
    # Blocking one of them resolves it.
    blocked = run([*CLI, "run", "--dryrun", "utils.echo"], site,
                  TORCHRUN_CORE_BLOCK_PLUGINS="override_two")  # fmt: skip
    assert "echo override_one x" in dryrun_args(blocked)


def test_plugin_clashing_with_the_example_plugin_is_a_conflict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_plugin(site, "hello_clash", OVERRIDE_ECHO.replace('"shared.name"', '"example.hello"'))
    proc = run([*CLI, "run", "--dryrun", "example.hello"], site)
    assert proc.returncode == 2, proc.stderr
    assert "'example'" in proc.stderr and "'hello_clash'" in proc.stderr


def test_a_file_component_comes_before_any_plugin(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_plugin(site, "override_one")
    (tmp_path / "utils.py").write_text(
        "from torchrun_core import AppDef, Role\n\n\n"
        "def echo(msg: str = 'x') -> AppDef:\n"
        "    role = Role(name='f', entrypoint='echo', args=['file', msg])\n"
        "    return AppDef(name='f', roles=[role])\n"
    )
    proc = run([*CLI, "run", "--dryrun", "utils.py:echo", "--msg", "m"], site, cwd=tmp_path)
    assert "echo file m" in dryrun_args(proc)
