"""Plugins, with the real example distribution (tests/plugin_dist) pip-installed.

The test command installs ``torchrun-core-example-plugin`` like any
third-party package. Under ``CI=true`` its absence fails these tests;
elsewhere they skip and say how to install it. Conflicting and broken
plugins are made at test time as a module plus a ``.dist-info`` directory on
``PYTHONPATH`` of a child process: entry-point discovery finds them exactly
as it finds installed distributions.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from ci_rules import require_installed

from torchrun_core import AppDef, AppState, Resource, Role
from torchrun_core.errors import InvalidOptionError, SpecError
from torchrun_core.registry import BLOCK_ENV, PluginRegistry
from torchrun_core.runner import get_runner

EXAMPLE_DIST = "torchrun-core-example-plugin"
EXAMPLE_MODULE = "torchrun_core_example_plugin"
CLI = [sys.executable, "-m", "torchrun_core"]


@pytest.fixture(autouse=True)
def _example_plugin_installed() -> None:
    """Skip (or, under CI, fail) when the example distribution is not installed."""
    try:
        importlib.metadata.distribution(EXAMPLE_DIST)
        found = True
    except importlib.metadata.PackageNotFoundError:
        found = False
    require_installed(EXAMPLE_DIST, found, "pip install ./tests/plugin_dist (scripts/test.sh does)")


def make_dist(where: Path, module: str, plugin: str, code: str) -> Path:
    """Write module ``module`` and a dist-info registering it as plugin ``plugin``."""
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{module}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    info = where / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.1\n",
        encoding="utf-8",
    )
    (info / "entry_points.txt").write_text(
        f"[torchrun_core]\n{plugin} = {module}\n", encoding="utf-8"
    )
    return where


CONFLICTING = """
from torchrun_core import hookimpl

@hookimpl
def torchrun_core_schedulers():
    return {"local": "conflicting_plugin:nothing_here"}
"""

BROKEN = """
raise ImportError("needs libexample.so, which is not installed")
"""


def run(
    argv: list[str], extra_path: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``extra_path`` on PYTHONPATH and ``env`` added; any exit code."""
    full_env = dict(os.environ, **env)
    if extra_path is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(extra_path), full_env.get("PYTHONPATH")])
        )
    return subprocess.run(
        argv, capture_output=True, text=True, env=full_env, timeout=60, stdin=subprocess.DEVNULL
    )


def python(
    code: str, extra_path: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-c", textwrap.dedent(code)], extra_path, **env)


# -- the example plugin next to the builtins -------------------------------------


def test_example_is_a_real_installed_distribution() -> None:
    spec = importlib.util.find_spec(EXAMPLE_MODULE)
    assert spec is not None and spec.origin is not None
    assert "site-packages" in spec.origin, f"not a real install: {spec.origin}"
    dist = importlib.metadata.distribution(EXAMPLE_DIST)
    (entry_point,) = [ep for ep in dist.entry_points if ep.group == "torchrun_core"]
    assert (entry_point.name, entry_point.value) == ("example", EXAMPLE_MODULE)


def test_plugin_adds_to_the_builtins(fresh_registry: PluginRegistry) -> None:
    registry = fresh_registry
    assert {"local", "example"} <= set(registry.names("schedulers"))
    assert {"utils.echo", "utils.sh", "utils.python", "example.hello"} <= set(
        registry.names("components")
    )
    assert "example.small" in registry.names("named_resources")
    assert registry.get("schedulers", "example").plugin == "example"  # type: ignore[union-attr]
    assert registry.get("schedulers", "local").plugin == "local"  # type: ignore[union-attr]
    assert registry.conflicts() == []
    assert registry.load_errors == {}


def test_cli_lists_plugin_and_builtins() -> None:
    plugins = run([*CLI, "plugins", "--json"])
    assert plugins.returncode == 0, plugins.stderr
    report = json.loads(plugins.stdout)
    by_name = {p["name"]: p for p in report["plugins"]}
    assert by_name["example"]["provides"]["schedulers"] == ["example"]
    assert by_name["example"]["distribution"] == f"{EXAMPLE_DIST} 0.1.0"
    assert "local" in by_name and "builtin_components" in by_name
    builtins = run([*CLI, "builtins"])
    assert builtins.returncode == 0, builtins.stderr
    assert "example.hello" in builtins.stdout and "utils.echo" in builtins.stdout
    assert "Greet someone from every replica." in builtins.stdout


# -- conflicts, broken plugins, blocking ------------------------------------------


def test_duplicate_name_is_a_conflict_naming_both_plugins(tmp_path: Path) -> None:
    extra = make_dist(tmp_path / "site", "conflicting_plugin", "conflicting", CONFLICTING)
    proc = python(
        """
        from torchrun_core.errors import PluginConflictError
        from torchrun_core.registry import get_registry
        registry = get_registry()
        assert registry.conflicts() == [("schedulers", "local", ["local", "conflicting"])] or \\
            registry.conflicts() == [("schedulers", "local", ["conflicting", "local"])], \\
            registry.conflicts()
        registry.scheduler_factory("example")  # other names are unaffected
        try:
            registry.scheduler_factory("local")
        except PluginConflictError as err:
            print(err)
            print(err.hint)
        else:
            raise SystemExit("no conflict raised")
        """,
        extra,
    )
    assert proc.returncode == 0, proc.stderr
    message = proc.stdout.splitlines()[0]
    assert "'local'" in message and "'conflicting'" in message, message
    assert BLOCK_ENV in proc.stdout


def test_cli_reports_a_conflict_in_one_line_and_exits_2(tmp_path: Path) -> None:
    extra = make_dist(tmp_path / "site", "conflicting_plugin", "conflicting", CONFLICTING)
    proc = run([*CLI, "run", "utils.echo"], extra)
    assert proc.returncode == 2, proc.stderr
    error = proc.stderr.splitlines()[0]
    assert error.startswith("error: ") and "'conflicting'" in error and "'local'" in error
    assert "Traceback" not in proc.stderr
    listing = run([*CLI, "plugins"], extra)
    assert listing.returncode == 0, listing.stderr
    assert "conflicts" in listing.stdout and "'conflicting'" in listing.stdout


def test_broken_plugin_is_reported_and_skipped(tmp_path: Path) -> None:
    extra = make_dist(tmp_path / "site", "broken_plugin", "broken", BROKEN)
    proc = python(
        """
        import json
        from torchrun_core.registry import get_registry
        registry = get_registry()
        print(json.dumps({"errors": registry.load_errors,
                          "schedulers": registry.names("schedulers"),
                          "components": registry.names("components")}))
        """,
        extra,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert "needs libexample.so" in found["errors"]["broken"]
    assert "ImportError" in found["errors"]["broken"]
    assert {"local", "example"} <= set(found["schedulers"])
    assert {"utils.echo", "example.hello"} <= set(found["components"])


def test_cli_still_works_with_a_broken_plugin(tmp_path: Path) -> None:
    extra = make_dist(tmp_path / "site", "broken_plugin", "broken", BROKEN)
    plugins = run([*CLI, "plugins"], extra)
    assert plugins.returncode == 0, plugins.stderr
    assert "broken" in plugins.stdout and "needs libexample.so" in plugins.stdout
    builtins = run([*CLI, "builtins"], extra)
    assert builtins.returncode == 0, builtins.stderr
    assert "utils.echo" in builtins.stdout and "example.hello" in builtins.stdout
    echo = run([*CLI, "run", "--wait", "utils.echo", "--msg", "still works"], extra)
    assert echo.returncode == 0, echo.stderr
    assert "still works" in echo.stdout


def test_block_env_blocks_a_named_plugin(
    monkeypatch: pytest.MonkeyPatch, fresh_registry: PluginRegistry
) -> None:
    assert "example" in fresh_registry.names("schedulers")
    monkeypatch.setenv(BLOCK_ENV, "example")
    from torchrun_core.registry import get_registry, reset_registry

    reset_registry()
    registry = get_registry()
    assert registry.blocked == ["example"]
    assert "example" not in registry.names("schedulers")
    assert "example.hello" not in registry.names("components")
    assert "local" in registry.names("schedulers")
    assert "utils.echo" in registry.names("components")


def test_block_env_silences_a_broken_plugin(tmp_path: Path) -> None:
    extra = make_dist(tmp_path / "site", "broken_plugin", "broken", BROKEN)
    proc = run([*CLI, "plugins", "--json"], extra, **{BLOCK_ENV: "broken, example"})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["load_errors"] == []
    assert report["blocked"] == ["broken", "example"]
    assert "example" not in {p["name"] for p in report["plugins"]}


# -- named resources and laziness ------------------------------------------------


def test_named_resource_from_the_plugin_resolves_in_a_role() -> None:
    role = Role(name="r", entrypoint="true", resource="example.small")
    assert role.resource == Resource(cpu=1, memory_mb=512)
    assert role.with_resource("example.small").resource == role.resource


def test_unknown_named_resource_names_the_field_and_known_ones() -> None:
    with pytest.raises(SpecError) as caught:
        AppDef.parse({"name": "a", "roles": [{"name": "r", "entrypoint": "x", "resource": "huge"}]})
    assert caught.value.errors[0][0] == "roles[0].resource"
    assert "example.small" in caught.value.errors[0][1]


def test_plugin_modules_load_only_when_used() -> None:
    proc = python(
        f"""
        import json, sys
        from torchrun_core.registry import get_registry
        registry = get_registry()
        for kind in ("schedulers", "components", "named_resources"):
            registry.names(kind)
        loaded = lambda: sorted(m for m in sys.modules if m.startswith("{EXAMPLE_MODULE}"))
        after_discovery = loaded()
        registry.scheduler_factory("example")
        after_scheduler = loaded()
        registry.component("example.hello")
        print(json.dumps([after_discovery, after_scheduler, loaded()]))
        """
    )
    assert proc.returncode == 0, proc.stderr
    discovery, scheduler, component = json.loads(proc.stdout)
    assert discovery == [EXAMPLE_MODULE]
    assert scheduler == [EXAMPLE_MODULE, f"{EXAMPLE_MODULE}.scheduler"]
    assert f"{EXAMPLE_MODULE}.components" in component


# -- the example scheduler, end to end --------------------------------------------


def test_example_scheduler_runs_a_plugin_component_through_the_runner() -> None:
    with get_runner("plugintest") as runner:
        handle = runner.run_component(
            "example.hello", ["--name", "plugin", "--replicas", "2"], scheduler="example"
        )
        assert str(handle).startswith("example://plugintest/hello-")
        status = runner.wait(handle, timeout=30)
        assert status.state is AppState.SUCCEEDED
        assert [r.exit_code for r in status.roles[0].replicas] == [0, 0]
        lines = list(runner.log_lines(handle, "hello", k=1))
        assert lines == ["hello/1 would run: echo 'hello plugin from replica 1'\n"]
        assert [r.handle for r in runner.list(scheduler="example")] == [str(handle)]


def test_example_scheduler_options_and_cancel() -> None:
    with get_runner("plugintest") as runner:
        handle = runner.run_component(
            "example.hello", [], scheduler="example", cfg={"outcome": "RUNNING", "message": "hi"}
        )
        status = runner.status(handle)
        assert (status.state, status.message) == (AppState.RUNNING, "hi")
        runner.cancel(handle)
        assert runner.status(handle).state is AppState.CANCELLED
        runner.cancel(handle)  # idempotent
        with pytest.raises(InvalidOptionError, match="outcom") as caught:
            runner.dryrun_component("example.hello", [], scheduler="example", cfg={"outcom": "x"})
        assert caught.value.option == "outcom"  # type: ignore[attr-defined]


def test_cli_with_the_example_scheduler() -> None:
    opts = run([*CLI, "runopts", "example"])
    assert opts.returncode == 0, opts.stderr
    assert "outcome" in opts.stdout and "message" in opts.stdout
    failed = run(
        [*CLI, "run", "-s", "example", "--cfg", "outcome=FAILED", "--wait", "example.hello"]
    )
    assert failed.returncode == 1, failed.stderr
    handle = failed.stdout.splitlines()[-1]
    assert handle.startswith("example://default/hello-")
    status = run([*CLI, "status", "--json", handle])
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["state"] == "FAILED"


def test_plugin_component_runs_on_the_local_scheduler() -> None:
    proc = run([*CLI, "run", "--wait", "example.hello", "--name", "local", "--replicas", "2"])
    assert proc.returncode == 0, proc.stderr
    assert "hello local from replica 0" in proc.stdout
    assert "hello local from replica 1" in proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("local://default/hello-")
