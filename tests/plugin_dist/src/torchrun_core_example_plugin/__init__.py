"""An example torchrun_core plugin: a scheduler, a component, a named resource, a tracker.

This module is what the entry point names, so torchrun_core imports it during
plugin discovery. It stays light: every value is a ``"module:attr"`` string,
and the modules behind them (which import pydantic) load only when used.
"""

from __future__ import annotations

from torchrun_core.plugin import hookimpl


@hookimpl
def torchrun_core_schedulers() -> dict[str, str]:
    return {"example": "torchrun_core_example_plugin.scheduler:create_scheduler"}


@hookimpl
def torchrun_core_components() -> dict[str, str]:
    return {"example.hello": "torchrun_core_example_plugin.components:hello"}


@hookimpl
def torchrun_core_named_resources() -> dict[str, str]:
    return {"example.small": "torchrun_core_example_plugin.components:small"}


@hookimpl
def torchrun_core_trackers() -> dict[str, str]:
    return {"example": "torchrun_core_example_plugin.tracker:create_tracker"}
