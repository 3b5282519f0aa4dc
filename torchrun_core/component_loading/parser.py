"""Turn a component's signature into an argparse parser, and parsed values into a call.

Every parameter becomes an ``--option`` typed by its annotation (see
:mod:`torchrun_core.component_loading.params`), ``*args`` takes the remaining words,
and the docstring's ``Args:`` section gives each option's help. The parser
raises :class:`~torchrun_core.errors.ComponentError` instead of exiting.
"""

from __future__ import annotations

import argparse
import inspect
import re
from typing import Any, NoReturn

from torchrun_core.component_loading.params import ParamError, parameter_kwargs
from torchrun_core.component_loading.signature import ComponentSignature
from torchrun_core.errors import ComponentError


class ComponentHelpRequested(ComponentError):
    """``--help`` was among a component's arguments; ``help_text`` is what to show."""

    exit_code = 0

    def __init__(self, component: str, help_text: str) -> None:
        super().__init__(f"help requested for component {component!r}", component=component)
        self.help_text = help_text


class ComponentParser(argparse.ArgumentParser):
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

    def parse_values(self, args: list[str]) -> dict[str, Any]:
        """The parsed arguments by parameter name (absent ones left out).

        Raises:
            ComponentHelpRequested: ``-h``/``--help`` was given.
            ComponentError: a bad argument, naming it.
        """
        try:
            return vars(self.parse_args(args))
        except argparse.ArgumentError as err:
            self.error(str(err))


class _HelpAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show these arguments and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        assert isinstance(parser, ComponentParser)
        raise ComponentHelpRequested(parser.component, parser.format_help())


def build_parser(component: str, sig: ComponentSignature) -> ComponentParser:
    """The parser for ``sig``.

    Raises:
        ComponentError: the component is malformed (it does not return AppDef,
            a parameter lacks an annotation or has an unsupported type),
            naming its file and line.
    """
    if not sig.returns_app:
        raise malformed(component, sig, "its return annotation must be AppDef")
    summary, arg_help = parse_docstring(sig.doc)
    parser = ComponentParser(
        component,
        prog=f"torchrun-core run {component}",
        description=summary or None,
        argument_default=argparse.SUPPRESS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-h", "--help", action=_HelpAction)
    for param in sig.parameters:
        if param.kind is param.VAR_KEYWORD:
            raise malformed(component, sig, f"**{param.name} is not supported")
        if param.annotation is param.empty:
            raise malformed(component, sig, f"parameter {param.name!r} has no type annotation")
        try:
            names, kwargs = parameter_kwargs(param, param.annotation, arg_help.get(param.name))
        except ParamError as err:
            raise malformed(component, sig, f"parameter {param.name!r}: {err}") from None
        parser.add_argument(*names, **kwargs)
    return parser


def malformed(component: str, sig: ComponentSignature, why: str) -> ComponentError:
    """The error for a malformed component, compiler style (``file:line: ...``)."""
    return ComponentError(
        f"{sig.location}: component {sig.label!r} is malformed: {why}",
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


class CallPlan:
    """How parsed values map onto a call of the component function (computed once)."""

    __slots__ = ("steps",)

    _VAR, _POSITIONAL, _KEYWORD = 0, 1, 2

    def __init__(self, parameters: list[inspect.Parameter]) -> None:
        has_var = any(p.kind is p.VAR_POSITIONAL for p in parameters)
        self.steps: list[tuple[int, str, Any]] = []
        for p in parameters:
            if p.kind is p.VAR_POSITIONAL:
                self.steps.append((self._VAR, p.name, None))
            elif p.kind is p.POSITIONAL_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and has_var):
                # By position: either it cannot be a keyword, or *args follows it.
                self.steps.append((self._POSITIONAL, p.name, p.default))
            elif p.kind is not p.VAR_KEYWORD:
                self.steps.append((self._KEYWORD, p.name, None))

    def arguments(self, values: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Positional and keyword arguments to call the function with parsed ``values``."""
        positional: list[Any] = []
        keywords: dict[str, Any] = {}
        for how, name, default in self.steps:
            if how == self._VAR:
                rest = list(values.get(name, ()))
                positional.extend(rest[1:] if rest[:1] == ["--"] else rest)
            elif how == self._POSITIONAL:
                positional.append(values.get(name, default))
            elif name in values:
                keywords[name] = values[name]
        return positional, keywords


__all__ = [
    "CallPlan",
    "ComponentHelpRequested",
    "ComponentParser",
    "build_parser",
    "malformed",
    "parse_docstring",
]
