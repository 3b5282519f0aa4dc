"""Locate a component's source file and read it without importing it.

File components name their file; a plugin's component named lazily as
``"module:function"`` is found with :func:`importlib.util.find_spec` (the
module is not executed). The signature and docstring then come from the
file's AST (:mod:`torchrun_core.component_loading.signature`).
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from torchrun_core.component_loading.syntax import (
    defines_name,
    docstring_summary,
    parse_source,
    public_functions,
    top_level_function,
)
from torchrun_core.errors import ComponentError

if TYPE_CHECKING:
    from torchrun_core.component_loading.signature import ComponentSignature
    from torchrun_core.registry import Provided


def file_parts(name: str) -> tuple[Path, str]:
    """``(absolute file path, function name)`` of a ``path/to/file.py:fn`` component.

    Raises:
        ComponentError: the function is not named, or the file does not exist.
    """
    file_part, sep, fn_name = name.rpartition(":")
    if not sep or not fn_name:
        raise ComponentError(
            f"component {name!r} names a file but no function",
            hint=f"name the function too: {name.rstrip(':')}:<function>",
            component=name,
        )
    path = Path(file_part).expanduser()
    if not path.is_file():
        raise ComponentError(
            f"component file {file_part!r} not found", component=name, hint=f"cwd is {Path.cwd()}"
        )
    return path.resolve(), fn_name


def missing_function(path: Path, fn_name: str, found: list[str], component: str) -> ComponentError:
    """The error for a component file without the named function."""
    return ComponentError(
        f"{path} has no function {fn_name!r}",
        hint=f"functions in it: {', '.join(found) or 'none'}",
        component=component,
    )


_parsed: dict[str, tuple[tuple[int, int], ast.Module]] = {}


def parsed_module(path: Path, component: str) -> ast.Module:
    """The AST of ``path``, cached while the file is unchanged."""
    stat = path.stat()
    version = (stat.st_mtime_ns, stat.st_size)
    cached = _parsed.get(str(path))
    if cached is not None and cached[0] == version:
        return cached[1]
    module = parse_source(path, component)
    _parsed[str(path)] = (version, module)
    return module


def static_file_signature(component: str) -> ComponentSignature | None:
    """The signature of file component ``component`` from its source, or None if unsure.

    Raises:
        ComponentError: a missing file or function, or a syntax error.
    """
    path, fn_name = file_parts(component)
    module = parsed_module(path, component)
    node = top_level_function(module, fn_name)
    if node is None:
        if not defines_name(module, fn_name):
            raise missing_function(path, fn_name, public_functions(module), component)
        return None
    from torchrun_core.component_loading.signature import static_signature

    return static_signature(path, module, node, fn_name)


def plugin_source(provider: Provided) -> tuple[Path, str] | None:
    """``(source file, function name)`` of a ``"module:function"`` target, or None.

    None for an object target, a dotted attribute, or a module that is not a
    plain ``.py`` file; finding the file imports the parent packages only.
    """
    target = provider.target
    if not isinstance(target, str):
        return None
    module_name, _, attr = target.partition(":")
    if not attr or "." in attr:
        return None
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    origin = spec.origin if spec is not None else None
    if origin is None or not origin.endswith(".py"):
        return None
    return Path(origin), attr


def static_plugin_signature(provider: Provided, component: str) -> ComponentSignature | None:
    """The signature of a plugin's component from its source, or None if unsure."""
    found = plugin_source(provider)
    if found is None:
        return None
    path, fn_name = found
    try:
        module = parsed_module(path, component)
    except (ComponentError, OSError):
        return None  # the import reports it, as the plugin's error
    node = top_level_function(module, fn_name)
    if node is None:
        return None
    from torchrun_core.component_loading.signature import static_signature

    return static_signature(path, module, node, component)


def plugin_summary(provider: Provided) -> str | None:
    """The first docstring line of a plugin's component, from its source; None if unsure."""
    found = plugin_source(provider)
    if found is None:
        return None
    path, fn_name = found
    try:
        module = parsed_module(path, provider.name)
    except (ComponentError, OSError):
        return None
    node = top_level_function(module, fn_name)
    return None if node is None else docstring_summary(node)


__all__ = [
    "file_parts",
    "missing_function",
    "parsed_module",
    "plugin_source",
    "plugin_summary",
    "static_file_signature",
    "static_plugin_signature",
]
