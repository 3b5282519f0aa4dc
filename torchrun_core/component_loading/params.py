"""Turn one annotated component parameter into ``argparse.add_argument`` arguments.

Supported annotations: ``str``, ``int``, ``float``, ``bool`` (``--x/--no-x``),
``pathlib.Path``, an ``Enum`` (by value), ``Literal[...]``, ``list[T]``
(comma-separated or repeated), ``dict[str, T]`` (``k=v,k2=v2``, repeatable),
and ``Optional`` of any of these. ``*args`` takes the remaining words.
"""

from __future__ import annotations

import argparse
import inspect
import types
import typing
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

_SCALARS: dict[Any, Callable[[str], Any]] = {str: str, int: int, float: float, Path: Path}


class ParamError(Exception):
    """The annotation cannot be turned into a command-line argument."""


def unwrap_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _named(fn: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    # argparse shows ``fn.__name__`` in "invalid <name> value" messages.
    fn.__name__ = name
    return fn


def scalar_converter(annotation: Any) -> tuple[Callable[[str], Any], str | None]:
    """A str -> value converter for a scalar annotation, and its metavar (or None).

    Raises:
        ParamError: the annotation is not a supported scalar.
    """
    annotation = unwrap_optional(annotation)
    if annotation in _SCALARS:
        return _SCALARS[annotation], None
    if inspect.isclass(annotation) and issubclass(annotation, Enum):
        return _choice_converter({str(m.value): m for m in annotation}, annotation.__name__)
    if typing.get_origin(annotation) is typing.Literal:
        return _choice_converter({str(v): v for v in typing.get_args(annotation)}, "choice")
    raise ParamError(f"unsupported type {_type_name(annotation)}")


def _choice_converter(
    choices: dict[str, Any], type_name: str
) -> tuple[Callable[[str], Any], str | None]:
    def convert(text: str) -> Any:
        if text not in choices:
            raise argparse.ArgumentTypeError(
                f"invalid choice {text!r} (choose from {', '.join(choices)})"
            )
        return choices[text]

    return _named(convert, type_name), "{" + ",".join(choices) + "}"


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation)


class _ExtendItems(argparse.Action):
    """Collects ``a,b`` and repeated occurrences into one list."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, *_: Any
    ) -> None:
        assert callable(self.const)
        items = list(getattr(namespace, self.dest, None) or [])
        for word in str(values).split(","):
            if word.strip():
                items.append(_convert(self, self.const, word.strip()))
        setattr(namespace, self.dest, items)


class _MergeMapping(argparse.Action):
    """Collects ``k=v,k2=v2`` and repeated occurrences into one dict.

    A comma-separated piece without ``=`` continues the previous value, so
    that ``A=1,2,B=3`` gives ``{"A": "1,2", "B": "3"}``.
    """

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, *_: Any
    ) -> None:
        assert callable(self.const)
        merged = dict(getattr(namespace, self.dest, None) or {})
        raw: dict[str, str] = {}
        last: str | None = None
        for piece in str(values).split(","):
            key, eq, value = piece.partition("=")
            if eq and key.strip():
                last = key.strip()
                raw[last] = value
            elif last is not None:
                raw[last] += "," + piece
            elif piece.strip():
                raise argparse.ArgumentError(self, f"expected k=v[,k2=v2...], got {values!r}")
        merged.update({k: _convert(self, self.const, v) for k, v in raw.items()})
        setattr(namespace, self.dest, merged)


def _convert(action: argparse.Action, convert: Callable[[str], Any], text: str) -> Any:
    try:
        return convert(text)
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentError(action, str(err)) from None
    except (TypeError, ValueError):
        name = getattr(convert, "__name__", "value")
        raise argparse.ArgumentError(action, f"invalid {name} value: {text!r}") from None


def _container_kwargs(annotation: Any) -> dict[str, Any] | None:
    """add_argument kwargs for list and dict annotations, None for other types."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (list, Sequence, tuple) and annotation is not str:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise ParamError("only tuple[T, ...] tuples are supported")
        convert, _ = scalar_converter(args[0] if args else str)
        return {"action": _ExtendItems, "const": convert, "metavar": "A,B,..."}
    if origin is dict:
        key_type, value_type = args if args else (str, str)
        if key_type is not str:
            raise ParamError("dict keys must be str")
        convert, _ = scalar_converter(value_type)
        return {"action": _MergeMapping, "const": convert, "metavar": "K=V,..."}
    return None


def _help_text(help_text: str | None, param: inspect.Parameter) -> str:
    text = (help_text or "").replace("%", "%%")  # argparse %-formats help strings
    if param.default is inspect.Parameter.empty:
        suffix = "(required)"
    elif param.default is None or (isinstance(param.default, str) and not param.default):
        return text or " "
    else:
        shown = param.default.value if isinstance(param.default, Enum) else param.default
        suffix = f"(default: {shown})".replace("%", "%%")
    return f"{text} {suffix}".strip()


def option_names(name: str) -> list[str]:
    """``--name``, plus ``-n`` for a one-letter name, so that ``-j 2x1`` reads naturally."""
    return [f"-{name}", f"--{name}"] if len(name) == 1 and name != "h" else [f"--{name}"]


def parameter_kwargs(
    param: inspect.Parameter, annotation: Any, help_text: str | None
) -> tuple[list[str], dict[str, Any]]:
    """``(names, kwargs)`` for ``parser.add_argument`` describing ``param``.

    Raises:
        ParamError: the annotation is not supported.
    """
    annotation = unwrap_optional(annotation)
    if param.kind is param.VAR_POSITIONAL:
        convert, _ = scalar_converter(annotation)
        if convert is not str:
            raise ParamError("*args must be annotated str")
        return [param.name], {"nargs": argparse.REMAINDER, "help": help_text or " "}
    required = param.default is inspect.Parameter.empty
    kwargs: dict[str, Any] = {"help": _help_text(help_text, param)}
    if required:
        kwargs["required"] = True
    if annotation is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
        return option_names(param.name), kwargs
    container = _container_kwargs(annotation)
    if container is not None:
        return option_names(param.name), {**kwargs, **container}
    convert, metavar = scalar_converter(annotation)
    kwargs["type"] = convert
    if metavar:
        kwargs["metavar"] = metavar
    return option_names(param.name), kwargs
