"""The plugin SDK as a stranger uses it: only the documented imports, only docs/plugins.md.

The example plugin (``tests/plugin_dist``, installed like any third-party
distribution) stands for plugins written against the documented module for
plugin authors, ``torchrun_core.plugin`` (the older paths still work: see
tests/test_moved_paths.py). These tests keep it working end to end (its
tracker inside a real job on the local scheduler), keep it to that import,
and keep the guide's contract tables true to the code (issue 13, item 15).
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import json
from pathlib import Path

import pytest
from ci_rules import require_installed

from torchrun_core import AppState
from torchrun_core.registry import PluginRegistry
from torchrun_core.runner import Runner

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SRC = REPO / "tests" / "plugin_dist" / "src" / "torchrun_core_example_plugin"
GUIDE = REPO / "docs" / "plugins.md"
DOCUMENTED = {"torchrun_core.plugin"}


@pytest.fixture
def example_installed() -> None:
    try:
        importlib.metadata.distribution("torchrun-core-example-plugin")
        found = True
    except importlib.metadata.PackageNotFoundError:
        found = False
    require_installed(
        "torchrun-core-example-plugin", found, "pip install ./tests/plugin_dist (scripts/test.sh)"
    )


def plugin_imports() -> list[tuple[str, str]]:
    """``(module, name)`` for every ``from torchrun_core... import name`` of the example plugin."""
    found = []
    for path in sorted(PLUGIN_SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(a.name, "") for a in node.names if a.name.startswith("torchrun_core")]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "torchrun_core"
            ):
                found += [(node.module or "", a.name) for a in node.names]
    return found


# -- the documented imports ---------------------------------------------------------
def test_the_example_plugin_imports_only_documented_public_names() -> None:
    imports = plugin_imports()
    assert {m for m, _ in imports} <= DOCUMENTED, imports
    for module, name in imports:
        imported = importlib.import_module(module)
        # Public: in __all__, or (a module without one, like errors) a non-underscore name.
        public = getattr(imported, "__all__", None) or [n for n in dir(imported) if n[0] != "_"]
        assert name in public, f"{module}.{name} is not public"


# -- a tracker, end to end -----------------------------------------------------------
@pytest.mark.usefixtures("example_installed")
def test_the_plugins_tracker_reports_from_a_real_job(tmp_path: Path) -> None:
    reports = tmp_path / "reports.jsonl"
    code = (
        "from torchrun_core.tracking import app_run\n"
        "run = app_run()\n"
        "run.log_params({'lr': 0.1})\n"
        "run.log_metric('loss', 0.5, step=3)\n"
        "run.close()\n"
    )
    with Runner("sdk", tracker_config={"example": str(reports)}) as runner:
        handle = runner.run_component("utils.python", ["--c", code, "--num_replicas", "2"])
        status = runner.wait(handle, timeout=60)
        assert status.state is AppState.SUCCEEDED, list(runner.log_lines(handle))
    records = [json.loads(line) for line in reports.read_text(encoding="utf-8").splitlines()]
    # The handle has the real app id: the local scheduler applied Macros.apply_env.
    assert {r["handle"] for r in records} == {str(handle)}
    metrics = [r for r in records if r["kind"] == "metric"]
    assert sorted(r["source"] for r in metrics) == ["python/0", "python/1"]
    assert {(r["tag"], r["value"], r["step"]) for r in metrics} == {("loss", 0.5, 3)}
    assert [r["params"] for r in records if r["kind"] == "params"] == [{"lr": 0.1}] * 2


@pytest.mark.usefixtures("example_installed")
def test_the_plugins_tracker_is_a_tracker_backend(tmp_path: Path) -> None:
    from torchrun_core_example_plugin.tracker import create_tracker

    from torchrun_core.tracking import TrackerBackend

    assert isinstance(create_tracker(str(tmp_path / "r.jsonl")), TrackerBackend)
    with pytest.raises(ValueError, match="needs a file path"):
        create_tracker(None)


# -- misspelled hooks (item 12), in the API -----------------------------------------
def test_a_misspelled_hook_warns_and_is_reported(fresh_registry: PluginRegistry) -> None:
    from types import SimpleNamespace

    from torchrun_core import hookimpl
    from torchrun_core.registry import PluginWarning

    @hookimpl
    def torchrun_core_scheduler() -> dict[str, str]:  # "schedulers": never called
        return {"typo": "nowhere:Nothing"}

    plugin = SimpleNamespace(torchrun_core_scheduler=torchrun_core_scheduler)
    with pytest.warns(PluginWarning, match="unknown hook torchrun_core_scheduler"):
        fresh_registry.register(plugin, name="typo-plugin")
    assert fresh_registry.hook_problems["typo-plugin"] == [
        "unknown hook torchrun_core_scheduler (did you mean torchrun_core_schedulers?): "
        "it is never called"
    ]
    assert set(fresh_registry.hook_problems) == {"typo-plugin"}  # the builtins have none


# -- the guide's contract tables match the code -------------------------------------
def documented_signature(name: str, params: list[str]) -> str:
    return f"`{name}({', '.join(params)})`"


def test_the_guide_gives_every_tracker_backend_method_with_its_parameters() -> None:
    from torchrun_core.tracking import TrackerBackend

    guide = GUIDE.read_text(encoding="utf-8")
    for name, method in inspect.getmembers(TrackerBackend, inspect.isfunction):
        if name.startswith("_"):
            continue
        params = [p for p in inspect.signature(method).parameters if p != "self"]
        assert documented_signature(name, params) in guide, f"docs/plugins.md: {name}"


def test_the_guide_gives_the_watcher_protocol() -> None:
    from torchrun_core.scheduler import Scheduler, Watcher

    guide = GUIDE.read_text(encoding="utf-8")
    wait_params = [p for p in inspect.signature(Watcher.wait).parameters if p != "self"]
    assert documented_signature("wait", wait_params) in guide
    watch_params = [p for p in inspect.signature(Scheduler.watch).parameters if p != "self"]
    assert documented_signature("watch", watch_params) in guide
