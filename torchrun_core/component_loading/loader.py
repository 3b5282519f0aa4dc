"""Find components and call them with command-line style arguments.

A component is a plain function returning an :class:`~torchrun_core.AppDef`,
named ``path/to/file.py:fn`` (any file; highest precedence) or ``group.fn``
(provided by a plugin; a third-party plugin overrides a builtin, see
:mod:`torchrun_core.component_loading.discovery`). Its signature becomes an argparse
parser (:mod:`torchrun_core.component_loading.parser`).

Running a component imports it; the loaded function, its parser and its call
plan are cached per component (a file component is reloaded when the file
changes), so that building the same component again costs well under a
millisecond. Help and one-line summaries are read from the source without
importing it whenever :mod:`torchrun_core.component_loading.signature` can.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import stat
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.component_loading.discovery import find_component
from torchrun_core.component_loading.parser import (
    CallPlan,
    ComponentHelpRequested,
    ComponentParser,
    build_parser,
    malformed,
    parse_docstring,
)
from torchrun_core.component_loading.signature import ComponentSignature, signature_of, where
from torchrun_core.component_loading.source import (
    file_parts,
    missing_function,
    static_file_signature,
    static_plugin_signature,
)
from torchrun_core.component_loading.syntax import syntax_hint
from torchrun_core.errors import ComponentError, SpecError, TorchrunCoreError

if TYPE_CHECKING:
    from torchrun_core.registry import PluginRegistry, Provided
    from torchrun_core.specs.app import AppDef

ComponentFn = Callable[..., "AppDef"]

_module_counter = itertools.count()


class _Loaded:
    """A component ready to call: function, parser and call plan, plus what it came from."""

    __slots__ = ("fn", "parser", "plan", "source")

    def __init__(self, fn: ComponentFn, parser: ComponentParser, plan: CallPlan, source: object):
        self.fn = fn
        self.parser = parser
        self.plan = plan
        self.source = source  # a file's (mtime, size, inode) or the plugin's Provided


_cache: dict[tuple[str, str], _Loaded] = {}
_cache_lock = threading.RLock()  # a component module may build another while imported


def is_file_component(name: str) -> bool:
    """True for ``path/to/file.py:fn`` (and ``file.py`` missing its ``:fn``)."""
    file_part, sep, _ = name.rpartition(":")
    return (bool(sep) and file_part.endswith(".py")) or name.endswith(".py")


def _registry(registry: PluginRegistry | None) -> PluginRegistry:
    if registry is not None:
        return registry
    from torchrun_core.registry import get_registry

    return get_registry()


# -- loading (importing) components -------------------------------------------
def load_component(name: str, registry: PluginRegistry | None = None) -> ComponentFn:
    """The function behind component ``name``.

    ``name`` is ``path/to/file.py:fn`` (relative to the cwd or absolute; ``~``
    expanded) or ``group.fn`` (looked up among the plugins' components).

    Raises:
        ComponentError: the component, file or function does not exist, the
            file cannot be imported (naming the file and line), or the
            component is malformed.
        PluginConflictError: several third-party plugins provide ``name``.
    """
    return _loaded(name, registry).fn


def _loaded(name: str, registry: PluginRegistry | None) -> _Loaded:
    source: object
    if is_file_component(name):
        key, source = _file_version(name)
    else:
        provider = find_component(name, _registry(registry))
        key, source = ("", name), provider
    entry = _cache.get(key)
    if entry is not None and (entry.source == source):
        return entry
    with _cache_lock:
        entry = _cache.get(key)
        if entry is None or entry.source != source:
            if isinstance(source, tuple):
                fn = _import_file_function(key[0], key[1], name)
            else:
                fn = _load_plugin_function(source, name)
            sig = _signature(name, fn)
            entry = _Loaded(fn, build_parser(name, sig), CallPlan(sig.parameters), source)
            _cache[key] = entry
        return entry


# (name, cwd, $HOME) -> (resolved path, function): saves resolving the path on every build.
_resolved: dict[tuple[str, str, str], tuple[str, str]] = {}


def _file_version(name: str) -> tuple[tuple[str, str], tuple[int, int, int]]:
    """``((resolved path, function), (mtime, size, inode))`` of a file component."""
    home = os.environ.get("HOME", "") if name.startswith("~") else ""
    where = (name, os.getcwd(), home)
    known = _resolved.get(where)
    if known is not None:
        try:
            st = os.stat(known[0])
            if stat.S_ISREG(st.st_mode):
                return known, (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            pass  # gone: resolve again, for the proper error
    path, fn_name = file_parts(name)
    st = path.stat()
    _resolved[where] = known = (str(path), fn_name)
    return known, (st.st_mtime_ns, st.st_size, st.st_ino)


def _load_plugin_function(provider: Provided, name: str) -> ComponentFn:
    fn: ComponentFn = provider.load()
    return fn


def _import_file_function(path_text: str, fn_name: str, component: str) -> ComponentFn:
    path = Path(path_text)
    module = _import_file(path, component)
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        import inspect

        found = [n for n, v in vars(module).items() if inspect.isfunction(v) and n[0] != "_"]
        raise missing_function(path, fn_name, found, component)
    return fn  # type: ignore[no-any-return]


def _import_file(path: Path, component: str) -> Any:
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"_torchrun_core_component_{next(_module_counter)}_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ComponentError(
            f"cannot import {path} as Python",
            hint="a file component is a Python file: path/to/file.py:function",
            component=component,
        )
    module = importlib.util.module_from_spec(spec)
    # Registered so that dataclasses and get_type_hints can find the module.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        del sys.modules[module_name]
        raise ComponentError(
            f"{err.filename or path}:{err.lineno}: syntax error: {err.msg}",
            hint=syntax_hint(path),
            component=component,
        ) from err
    except Exception as err:
        del sys.modules[module_name]
        raise ComponentError(
            f"{_raising_line(err, path)}: cannot import component file: "
            f"{type(err).__name__}: {err}",
            hint="fix the file, or the environment it imports from",
            component=component,
        ) from err
    return module


def _raising_line(err: BaseException, path: Path) -> str:
    """``file:line`` of the statement in ``path`` that raised ``err`` (the last one)."""
    line = None
    tb = err.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f"{path}:{line}" if line is not None else str(path)


def _signature(component: str, fn: Any) -> ComponentSignature:
    """The signature of a loaded component function, its annotations resolved."""
    import inspect
    import typing

    from torchrun_core.specs.app import AppDef

    label = getattr(fn, "__name__", component) if is_file_component(component) else component
    if not callable(fn):
        raise ComponentError(f"component {component!r} is not a function", component=component)
    try:
        hints = typing.get_type_hints(fn)
        return signature_of(fn, label, hints, hints.get("return") is AppDef)
    except (TypeError, ValueError) as err:  # no signature: a builtin or C function
        if isinstance(err, TypeError) and inspect.isfunction(fn):
            raise _unresolvable(component, fn, label, err) from err
        raise ComponentError(
            f"component {component!r} is not a Python function: {err}", component=component
        ) from err
    except Exception as err:  # unresolvable string annotations (NameError...)
        raise _unresolvable(component, fn, label, err) from err


def _unresolvable(component: str, fn: Any, label: str, err: Exception) -> ComponentError:
    sig = ComponentSignature([], "", where(fn), label, returns_app=False)
    return malformed(component, sig, f"cannot resolve its annotations: {err}")


# -- building apps --------------------------------------------------------------
def build_app(
    component: str, args: Sequence[str], registry: PluginRegistry | None = None
) -> AppDef:
    """Call component ``component`` with command-line ``args``; returns its AppDef.

    Raises:
        ComponentHelpRequested: ``-h``/``--help`` was given; carries the help text.
        ComponentError: unknown or malformed component, or a bad argument
            (naming the component and the argument; ``usage`` holds its usage).
        PluginConflictError: several third-party plugins provide ``component``.
        SpecError: the component built an invalid AppDef.
    """
    loaded = _loaded(component, registry)
    positional, keywords = loaded.plan.arguments(loaded.parser.parse_values(list(args)))
    try:
        app = loaded.fn(*positional, **keywords)
    except SpecError as err:
        # The component built a bad Role or AppDef: name the component and its arguments.
        raise _spec_error(component, err.errors) from None
    except TorchrunCoreError:
        raise
    except Exception as err:
        raise _call_error(component, loaded.parser, err) from err
    from torchrun_core.specs.app import AppDef

    if not isinstance(app, AppDef):
        raise ComponentError(
            f"{where(loaded.fn)}: component {component} returned {type(app).__name__}, not AppDef",
            hint="a component is a function with annotated parameters returning AppDef",
            component=component,
        )
    return app


def _spec_error(component: str, errors: list[tuple[str, str]]) -> SpecError:
    from torchrun_core.specs.spec_base import spec_error_of

    return spec_error_of(
        errors,
        f"app from component {component}",
        hint=f"check the arguments given to it: torchrun-core run {component} --help",
    )


def _call_error(component: str, parser: ComponentParser, err: Exception) -> TorchrunCoreError:
    from pydantic import ValidationError

    from torchrun_core.specs.app import spec_error

    if isinstance(err, ValidationError):  # another pydantic model the component built
        return _spec_error(component, spec_error(err).errors)
    # A ValueError is how a component rejects its arguments; anything else is a bug in it.
    why = str(err) if type(err) is ValueError else f"{type(err).__name__}: {err}"
    return ComponentError(
        f"component {component}: {why}",
        hint=f"see its arguments with: torchrun-core run {component} --help",
        component=component,
        usage=parser.format_usage().rstrip("\n"),
    )


# -- help, without importing when possible ----------------------------------------
def _static_parser(component: str, registry: PluginRegistry | None) -> ComponentParser | None:
    """The parser built from the component's source alone, or None when that is not enough."""
    if is_file_component(component):
        sig = static_file_signature(component)
    else:
        sig = static_plugin_signature(find_component(component, _registry(registry)), component)
    return None if sig is None else build_parser(component, sig)


def component_help(component: str, registry: PluginRegistry | None = None) -> str:
    """The usage text of ``component`` with each argument's help and default.

    Read from the source without importing it when possible.
    """
    parser = _static_parser(component, registry) or _loaded(component, registry).parser
    return parser.format_help()


def help_if_requested(
    component: str, args: Sequence[str], registry: PluginRegistry | None = None
) -> str | None:
    """The component's help if ``args`` ask for it, found without importing the component.

    None when ``args`` do not ask for help, or when answering needs the
    import (the source cannot be read statically, or the arguments have an
    error that the real parser should report): then build the app as usual.
    """
    if not any(a in ("-h", "--help") or a.startswith("--he") for a in args):
        return None
    try:
        parser = _static_parser(component, registry)
        if parser is not None:
            parser.parse_values(list(args))
    except ComponentHelpRequested as requested:
        return requested.help_text
    except TorchrunCoreError:
        return None  # the import path reports it, exactly as a run would
    return None


__all__ = [
    "ComponentHelpRequested",
    "build_app",
    "component_help",
    "help_if_requested",
    "is_file_component",
    "load_component",
    "parse_docstring",
]
