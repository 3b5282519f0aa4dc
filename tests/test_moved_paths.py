"""Module paths from before the regrouping into packages still import.

Every old name in ``torchrun_core._moved.MOVED`` is the very module at its new
path (so patching one patches the other), with a DeprecationWarning naming the
new path; the plugin-facing paths that never moved import without a warning.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from torchrun_core._moved import MOVED


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_an_old_path_is_the_new_module_with_a_warning(old: str, new: str) -> None:
    code = textwrap.dedent(
        f"""
        import importlib, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            old = importlib.import_module("torchrun_core.{old}")
        new = importlib.import_module("torchrun_core.{new}")
        assert old is new, (old, new)
        assert new.__spec__.name == "torchrun_core.{new}", new.__spec__.name
        assert new.__name__ == "torchrun_core.{new}"
        messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
        assert any("torchrun_core.{new}" in m for m in messages), messages
        """
    )
    # A fresh interpreter: the old name must resolve on a first import, not from a cache.
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_moved_names_are_gone_from_the_tree() -> None:
    # An old name that is again a real module would shadow nothing and mislead readers.
    import importlib.util

    for old in MOVED:
        spec = importlib.util.find_spec(f"torchrun_core.{old}")
        assert spec is not None
        assert spec.origin is None, f"torchrun_core.{old} exists again at {spec.origin}"


def test_the_plugin_paths_that_did_not_move_import_without_warnings() -> None:
    code = textwrap.dedent(
        """
        import warnings
        warnings.simplefilter("error")
        from torchrun_core import AppDef, Role, Scheduler, hookimpl
        from torchrun_core.errors import InvalidInputError
        from torchrun_core.paths import state_dir
        from torchrun_core.scheduler import ListedApp, Watcher
        from torchrun_core.tracking import RunContext, TrackerBackend
        from torchrun_core.runner import Runner, get_runner
        from torchrun_core.runstore import RunStore
        from torchrun_core.config import load_config
        from torchrun_core.schedulers.local import LocalScheduler
        from torchrun_core.schedulers.docker import DockerScheduler
        from torchrun_core.schedulers.slurm import SlurmScheduler
        from torchrun_core.schedulers.kubernetes import KubernetesScheduler
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_entry_points_keep_their_names_and_targets() -> None:
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group="torchrun_core")}
    assert {
        "local": "torchrun_core.schedulers.local",
        "docker": "torchrun_core.schedulers.docker",
        "slurm": "torchrun_core.schedulers.slurm",
        "kubernetes": "torchrun_core.schedulers.kubernetes",
        "builtin_components": "torchrun_core.components",
        "builtin_trackers": "torchrun_core.tracking.builtin_plugin",
    }.items() <= found.items()
