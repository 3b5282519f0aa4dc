"""A component's signature, read from its function object or from its source file.

Reading the source (``ast.parse``, nothing executed) lets ``run FILE:fn
--help`` and ``builtins`` describe components without importing them, and so
without importing pydantic (~100 ms) through ``from torchrun_core import
AppDef``. The static reading understands the usual annotations (builtins,
``typing``, ``collections.abc``, ``pathlib.Path``, enums defined in the same
file) and literal defaults; anything else makes it give up (``None``) so that
the caller imports the module instead. Both readings produce the same
:class:`ComponentSignature`, so both render the same help.
"""

from __future__ import annotations

import ast
import builtins
import collections.abc
import enum
import inspect
import pathlib
import typing
from pathlib import Path
from typing import Any

from torchrun_core.component_loading.syntax import bound_names


class ComponentSignature:
    """What a component's parser needs: parameters with resolved annotations, doc, location."""

    __slots__ = ("doc", "label", "location", "parameters", "returns_app")

    def __init__(
        self,
        parameters: list[inspect.Parameter],
        doc: str,
        location: str,
        label: str,
        returns_app: bool,
    ) -> None:
        self.parameters = parameters  # annotation is Parameter.empty when missing
        self.doc = doc  # cleaned docstring (inspect.cleandoc)
        self.location = location  # "file:line" of the def, for error messages
        self.label = label  # how error messages name the component
        self.returns_app = returns_app  # the return annotation is AppDef


def signature_of(
    fn: Any, label: str, hints: dict[str, Any], returns_app: bool
) -> ComponentSignature:
    """The signature of a loaded function, given its resolved type ``hints``."""
    params = [
        p.replace(annotation=hints.get(p.name, inspect.Parameter.empty))
        for p in inspect.signature(fn).parameters.values()
    ]
    return ComponentSignature(params, inspect.getdoc(fn) or "", where(fn), label, returns_app)


def where(fn: Any) -> str:
    """``file:line`` of a function, for error messages."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return repr(fn)
    return f"{code.co_filename}:{code.co_firstlineno}"


# -- reading source files ----------------------------------------------------
class _GiveUp(Exception):
    """The source cannot be understood statically; import the module instead."""


def static_signature(
    path: Path, module: ast.Module, node: ast.FunctionDef, label: str
) -> ComponentSignature | None:
    """The signature of ``node`` as the import would give it, or None if unsure."""
    names = _Names(module)
    try:
        params = _parameters(node.args, names)
        returns_app = names.is_app_def(node.returns)
    except _GiveUp:
        return None
    doc = ast.get_docstring(node, clean=True) or ""
    return ComponentSignature(params, doc, f"{path}:{node.lineno}", label, returns_app)


def _parameters(args: ast.arguments, names: _Names) -> list[inspect.Parameter]:
    kinds = inspect.Parameter
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    out = []
    for i, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        kind = kinds.POSITIONAL_ONLY if i < len(args.posonlyargs) else kinds.POSITIONAL_OR_KEYWORD
        out.append(_parameter(arg, kind, default, names))
    if args.vararg is not None:
        out.append(_parameter(args.vararg, kinds.VAR_POSITIONAL, None, names))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        out.append(_parameter(arg, kinds.KEYWORD_ONLY, kw_default, names))
    if args.kwarg is not None:
        out.append(_parameter(args.kwarg, kinds.VAR_KEYWORD, None, names))
    return out


def _parameter(
    arg: ast.arg, kind: Any, default: ast.expr | None, names: _Names
) -> inspect.Parameter:
    empty = inspect.Parameter.empty
    annotation = empty if arg.annotation is None else names.annotation(arg.annotation)
    value = empty if default is None else names.value(default)
    return inspect.Parameter(arg.arg, kind, default=value, annotation=annotation)


# Names an annotation may use, by (module, name); plain names fall back to builtins.
_KNOWN: dict[tuple[str, str], Any] = {
    **{
        ("builtins", n): getattr(builtins, n)
        for n in [
            *("str", "int", "float", "bool", "bytes", "list", "dict", "tuple", "set"),
            *("frozenset", "object", "type"),
        ]
    },
    **{
        ("typing", n): getattr(typing, n)
        for n in [
            *("Optional", "Union", "Literal", "Any", "List", "Dict", "Tuple", "Set"),
            *("FrozenSet", "Sequence", "Mapping", "Iterable"),
        ]
    },
    **{
        ("collections.abc", n): getattr(collections.abc, n)
        for n in ("Sequence", "Mapping", "Iterable")
    },
    ("pathlib", "Path"): pathlib.Path,
}
_ENUM_BASES = {("enum", "Enum"): enum.Enum, ("enum", "IntEnum"): enum.IntEnum}


class _Names:
    """Resolves the names of one module: its imports, its enums, then builtins."""

    def __init__(self, module: ast.Module) -> None:
        self.imported: dict[str, tuple[str, str]] = {}  # local name -> (module, attr or "")
        self.assigned: set[str] = set()
        self.classes: dict[str, ast.ClassDef] = {}
        self.enums: dict[str, type[enum.Enum]] = {}
        for node in module.body:
            self._note(node)

    def _note(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                local = a.asname or a.name.split(".")[0]
                self.imported[local] = (a.name if a.asname else local, "")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                self.imported[a.asname or a.name] = (node.module, a.name)
        elif isinstance(node, ast.ImportFrom):  # relative: cannot tell what it is
            self.assigned |= bound_names(node)
        elif isinstance(node, ast.ClassDef):
            self.classes[node.name] = node
        else:
            self.assigned |= bound_names(node)

    def resolve(self, node: ast.expr) -> tuple[str, str]:
        """``(module, name)`` an annotation name stands for; ``module`` ``""`` = this file."""
        if isinstance(node, ast.Name):
            if node.id in self.imported:
                return self.imported[node.id]
            if node.id in self.classes:
                return ("", node.id)
            if node.id in self.assigned or not hasattr(builtins, node.id):
                raise _GiveUp
            return ("builtins", node.id)
        if isinstance(node, ast.Attribute):
            module, attr = self.resolve(node.value)
            if module == "":  # an attribute of a class of this file
                raise _GiveUp
            return (f"{module}.{attr}" if attr else module, node.attr)
        raise _GiveUp

    def is_app_def(self, node: ast.expr | None) -> bool:
        """Whether a return annotation is ``torchrun_core``'s AppDef; raises _GiveUp if unsure."""
        if node is None:
            return False
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return self.is_app_def(_parse_expr(node.value))
        if isinstance(node, ast.Constant) and node.value is None:
            return False
        module, name = self.resolve(node)
        if module.split(".")[0] == "torchrun_core":
            return name == "AppDef"
        if (module, name) in _KNOWN or module == "":
            return False
        raise _GiveUp

    def annotation(self, node: ast.expr) -> Any:
        """The object an annotation expression evaluates to."""
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return self.annotation(_parse_expr(node.value))
            if node.value is None:
                return None
            raise _GiveUp
        try:
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                left, right = self.annotation(node.left), self.annotation(node.right)
                return _none_type(left) | _none_type(right)
            if isinstance(node, ast.Subscript):
                return self._subscript(node)
        except TypeError:  # e.g. str[int]: not a type the import would accept either
            raise _GiveUp from None
        module, name = self.resolve(node)
        if module == "":
            return self.enum(name)
        if (module, name) in _KNOWN:
            return _KNOWN[(module, name)]
        raise _GiveUp

    def _subscript(self, node: ast.Subscript) -> Any:
        base = self.annotation(node.value)
        if base is typing.Literal:  # its arguments are values, not annotations
            return typing.Literal[_literal(node.slice)]
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        args = tuple(... if _is_ellipsis(e) else self.annotation(e) for e in items)
        return base[args if len(args) > 1 else args[0]]

    def enum(self, name: str) -> type[enum.Enum]:
        """The enum class ``name`` of this file, rebuilt from its literal members."""
        if name not in self.enums:
            self.enums[name] = _rebuild_enum(self.classes[name], self)
        return self.enums[name]

    def value(self, node: ast.expr) -> Any:
        """A default value: a literal, or a member of an enum of this file."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module, name = self.resolve(node.value)
            if module == "":
                member = self.enum(name).__members__.get(node.attr)
                if member is not None:
                    return member
            raise _GiveUp
        return _literal(node)


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        raise _GiveUp from None


def _none_type(annotation: Any) -> Any:
    return type(None) if annotation is None else annotation


def _rebuild_enum(node: ast.ClassDef, names: _Names) -> type[enum.Enum]:
    if len(node.bases) != 1 or node.keywords:
        raise _GiveUp
    base = _ENUM_BASES.get(names.resolve(node.bases[0]))
    if base is None:
        raise _GiveUp
    members: list[tuple[str, Any]] = []
    for i, stmt in enumerate(node.body):
        if i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # the docstring
        if not (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            raise _GiveUp  # methods, auto(), annotations: let the import decide
        members.append((stmt.targets[0].id, _literal(stmt.value)))
    functional_api: Any = base  # Enum("Name", [(member, value), ...])
    try:
        rebuilt: type[enum.Enum] = functional_api(node.name, members)
    except (TypeError, ValueError):  # e.g. an IntEnum member that is not an int
        raise _GiveUp from None
    return rebuilt


def _parse_expr(text: str) -> ast.expr:
    try:
        return ast.parse(text, mode="eval").body
    except SyntaxError:
        raise _GiveUp from None


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


__all__ = [
    "ComponentSignature",
    "signature_of",
    "static_signature",
    "where",
]
