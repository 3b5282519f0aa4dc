"""Find components and call them with command-line style arguments.

A component is a plain function returning an :class:`~torchrun_core.AppDef`.
It is named either ``group.fn`` (provided by a plugin) or
``path/to/file.py:fn`` (any file). Its signature becomes an argparse parser:
every parameter is an ``--option`` typed by its annotation, ``*args`` takes
the remaining words, and the docstring's ``Args:`` section gives the help.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import itertools
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from torchrun_core.component_params import ParamError, parameter_kwargs
from torchrun_core.errors import ComponentError, TorchrunCoreError

if TYPE_CHECKING:
    from torchrun_core.plugins import PluginRegistry
    from torchrun_core.specs.app import AppDef

ComponentFn = Callable[..., "AppDef"]

_module_counter = itertools.count()


class ComponentHelpRequested(ComponentError):
    """``--help`` was among a component's arguments; ``help_text`` is what to show."""

    exit_code = 0

    def __init__(self, component: str, help_text: str) -> None:
        super().__init__(f"help requested for component {component!r}", component=component)
        self.help_text = help_text


# -- finding components -----------------------------------------------------
def is_file_component(name: str) -> bool:
    """True for ``path/to/file.py:fn`` (and ``file.py`` missing its ``:fn``)."""
    file_part, sep, _ = name.rpartition(":")
    return (bool(sep) and file_part.endswith(".py")) or name.endswith(".py")


def load_component(name: str, registry: PluginRegistry | None = None) -> ComponentFn:
    """The function behind component ``name``.

    ``name`` is ``group.fn`` (looked up among the plugins' components) or
    ``path/to/file.py:fn`` (relative to the cwd or absolute; ``~`` expanded).

    Raises:
        ComponentError: the component, file or function does not exist or
            the file cannot be imported (naming the file, and the line for a
            syntax error).
    """
    if is_file_component(name):
        return _load_file_component(name)
    if registry is None:
        from torchrun_core.plugins import get_registry

        registry = get_registry()
    fn: ComponentFn = registry.component(name)
    return fn


def _load_file_component(name: str) -> ComponentFn:
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
    module = _import_file(path.resolve(), name)
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        found = [n for n, v in vars(module).items() if inspect.isfunction(v) and n[0] != "_"]
        raise ComponentError(
            f"{path} has no function {fn_name!r}",
            hint=f"functions in it: {', '.join(found) or 'none'}",
            component=name,
        )
    return fn  # type: ignore[no-any-return]


def _import_file(path: Path, component: str) -> Any:
    stem = re.sub(r"\W", "_", path.stem)
    module_name = f"_torchrun_core_component_{next(_module_counter)}_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ComponentError(f"cannot import {path} as Python", component=component)
    module = importlib.util.module_from_spec(spec)
    # Registered so that dataclasses and get_type_hints can find the module.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as err:
        del sys.modules[module_name]
        raise ComponentError(
            f"{err.filename or path}:{err.lineno}: syntax error: {err.msg}", component=component
        ) from err
    except Exception as err:
        del sys.modules[module_name]
        raise ComponentError(
            f"cannot import component file {path}: {type(err).__name__}: {err}",
            component=component,
        ) from err
    return module


# -- arguments --------------------------------------------------------------
class _ComponentParser(argparse.ArgumentParser):
    """An ArgumentParser that raises ComponentError instead of exiting."""

    def __init__(self, component: str, **kwargs: Any) -> None:
        super().__init__(exit_on_error=False, add_help=False, **kwargs)
        self.component = component

    def error(self, message: str) -> NoReturn:
        raise ComponentError(
            f"component {self.component}: {message}",
            hint=f"see its arguments with: torchrun-core run {self.component} --help",
            component=self.component,
            usage=self.format_usage().rstrip("\n"),
        )


class _HelpAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show these arguments and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        assert isinstance(parser, _ComponentParser)
        raise ComponentHelpRequested(parser.component, parser.format_help())


def where(fn: Callable[..., Any]) -> str:
    """``file:line`` of a function, for error messages."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn)
    return f"{code.co_filename}:{code.co_firstlineno}"


def component_parser(component: str, fn: ComponentFn) -> argparse.ArgumentParser:
    """The argparse parser for ``fn``'s signature, raising ComponentError on bad args.

    Raises:
        ComponentError: ``fn`` is not a well-formed component (a parameter
            lacks an annotation or has an unsupported type, or it does not
            return AppDef), naming its file and line.
    """
    hints = _type_hints(component, fn)
    summary, arg_help = parse_docstring(inspect.getdoc(fn) or "")
    parser = _ComponentParser(
        component,
        prog=f"torchrun-core run {component}",
        description=summary or None,
        argument_default=argparse.SUPPRESS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-h", "--help", action=_HelpAction)
    for param in inspect.signature(fn).parameters.values():
        if param.kind is param.VAR_KEYWORD:
            raise _malformed(component, fn, f"**{param.name} is not supported")
        if param.name not in hints:
            raise _malformed(component, fn, f"parameter {param.name!r} has no type annotation")
        try:
            names, kwargs = parameter_kwargs(param, hints[param.name], arg_help.get(param.name))
        except ParamError as err:
            raise _malformed(component, fn, f"parameter {param.name!r}: {err}") from None
        parser.add_argument(*names, **kwargs)
    return parser


def _type_hints(component: str, fn: ComponentFn) -> dict[str, Any]:
    import typing

    from torchrun_core.specs.app import AppDef

    if not callable(fn):
        raise ComponentError(f"component {component!r} is not a function", component=component)
    try:
        hints = typing.get_type_hints(fn)
    except Exception as err:  # unresolvable string annotations
        raise _malformed(component, fn, f"cannot resolve its annotations: {err}") from err
    if hints.get("return") is not AppDef:
        raise _malformed(component, fn, "its return annotation must be AppDef")
    return hints


def _malformed(component: str, fn: Callable[..., Any], why: str) -> ComponentError:
    # Compiler style, so editors and terminals can jump to file:line.
    label = getattr(fn, "__name__", component) if is_file_component(component) else component
    return ComponentError(
        f"{where(fn)}: component {label!r} is malformed: {why}",
        hint="a component is a function with annotated parameters returning AppDef",
        component=component,
    )


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (text without ``Args:``, {arg: help})."""
    lines = doc.splitlines()
    header = next(
        (i for i, ln in enumerate(lines) if re.fullmatch(r"\s*(Args|Arguments):\s*", ln)), None
    )
    if header is None:
        return doc.strip(), {}
    base = len(lines[header]) - len(lines[header].lstrip())
    helps: dict[str, str] = {}
    current: str | None = None
    entry_indent = 0
    end = len(lines)
    for i in range(header + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent <= base:
            end = i
            break
        entry = re.fullmatch(r"\s*\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)", line)
        if entry and (current is None or indent <= entry_indent):
            current, entry_indent = entry[1], indent
            helps[current] = entry[2].strip()
        elif current is not None:
            helps[current] = f"{helps[current]} {line.strip()}".strip()
    rest = "\n".join(lines[:header] + lines[end:]).strip()
    return rest, helps


def _call_arguments(fn: ComponentFn, values: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments to call ``fn`` with the parsed ``values``."""
    params = list(inspect.signature(fn).parameters.values())
    has_var = any(p.kind is p.VAR_POSITIONAL for p in params)
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            rest = list(values.get(p.name, []))
            positional.extend(rest[1:] if rest[:1] == ["--"] else rest)
        elif p.kind is p.POSITIONAL_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and has_var):
            # Must go by position: either it cannot be a keyword, or *args follows it.
            positional.append(values.get(p.name, p.default))
        elif p.name in values:
            keywords[p.name] = values[p.name]
    return positional, keywords


def build_app(
    component: str, args: Sequence[str], registry: PluginRegistry | None = None
) -> AppDef:
    """Call component ``component`` with command-line ``args``; returns its AppDef.

    Raises:
        ComponentHelpRequested: ``-h``/``--help`` was given; carries the help text.
        ComponentError: unknown or malformed component, or a bad argument
            (naming the component and the argument; ``usage`` holds its usage).
        SpecError: the component built an invalid AppDef.
    """
    from pydantic import ValidationError

    from torchrun_core.specs.app import AppDef, spec_error

    fn = load_component(component, registry)
    parser = component_parser(component, fn)
    try:
        namespace = parser.parse_args(list(args))
    except argparse.ArgumentError as err:
        parser.error(str(err))
    positional, keywords = _call_arguments(fn, vars(namespace))
    try:
        app = fn(*positional, **keywords)
    except TorchrunCoreError:
        raise
    except ValidationError as err:
        raise spec_error(err, f"app from component {component}") from err
    except Exception as err:
        # A ValueError is how a component rejects its arguments; anything else is a bug in it.
        why = str(err) if type(err) is ValueError else f"{type(err).__name__}: {err}"
        raise ComponentError(
            f"component {component}: {why}",
            hint=f"see its arguments with: torchrun-core run {component} --help",
            component=component,
            usage=parser.format_usage().rstrip("\n"),
        ) from err
    if not isinstance(app, AppDef):
        raise ComponentError(
            f"{where(fn)}: component {component} returned {type(app).__name__}, not AppDef",
            component=component,
        )
    return app


def component_help(component: str, registry: PluginRegistry | None = None) -> str:
    """The usage text of ``component`` with each argument's help and default."""
    return component_parser(component, load_component(component, registry)).format_help()


__all__ = [
    "ComponentHelpRequested",
    "build_app",
    "component_help",
    "component_parser",
    "is_file_component",
    "load_component",
    "parse_docstring",
]
