"""``torchrun_core.plugin``: one module with everything a plugin needs, cheap to import."""

from __future__ import annotations

import importlib

from test_lazy_imports import NOT_ON_IMPORT, loaded_after

import torchrun_core.plugin as plugin


def _ruff_order(name: str) -> tuple[int, str]:
    # ruff's RUF022 (isort-style): CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_all_is_the_lazy_table_sorted_and_unique() -> None:
    exported = plugin.__all__
    assert exported == sorted(exported, key=_ruff_order), "keep __all__ sorted"
    assert len(set(exported)) == len(exported)
    assert set(exported) == set(plugin._EXPORTS)


def test_every_name_is_the_object_at_its_home() -> None:
    for name, module in plugin._EXPORTS.items():
        assert getattr(plugin, name) is getattr(importlib.import_module(module), name), name


def test_a_scheduler_tracker_and_builder_plugin_find_their_contracts() -> None:
    from torchrun_core.errors import TorchrunCoreError

    assert issubclass(plugin.InvalidInputError, TorchrunCoreError)
    assert {"Scheduler", "Watcher", "ListedApp", "SchedulerOptions", "state_dir"} <= set(
        dir(plugin)
    )
    assert {"TrackerBackend", "WorkspaceBuilder", "hookimpl", "RunContext"} <= set(dir(plugin))

    class Builder:
        def build(self, app: object, workspace: str, cfg: object = None) -> object:
            return app

    assert isinstance(Builder(), plugin.WorkspaceBuilder)  # runtime-checkable, like TrackerBackend
    assert not isinstance(object(), plugin.WorkspaceBuilder)


def test_importing_it_and_hookimpl_loads_nothing_heavy() -> None:
    loaded = loaded_after("from torchrun_core.plugin import hookimpl")
    # hookimpl comes from pluggy; nothing else heavy may come with it.
    assert loaded.isdisjoint(set(NOT_ON_IMPORT) - {"pluggy"}), sorted(loaded & set(NOT_ON_IMPORT))
    loaded = loaded_after("import torchrun_core.plugin")
    assert loaded.isdisjoint(NOT_ON_IMPORT), sorted(loaded & set(NOT_ON_IMPORT))
