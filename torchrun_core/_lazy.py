"""Module-level lazy attributes (PEP 562), so that facades import nothing heavy."""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~5 ms)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any


def lazy_getattr(module_name: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A ``__getattr__`` resolving ``name`` through ``table[name]`` = "module[:attr]"."""

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        mod_name, _, attr = target.partition(":")
        value = getattr(importlib.import_module(mod_name), attr or name)
        globals_ = importlib.import_module(module_name).__dict__
        globals_[name] = value  # later lookups skip __getattr__
        return value

    return __getattr__
