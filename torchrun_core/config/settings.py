"""One configuration value and where it came from.

The config is kept flat: a key path such as ``("schedulers", "local",
"grace_period")`` maps to a :class:`Setting`, its value and its
:class:`Source`. Layers (defaults, user file, project file, env, command
line) are flat dicts merged key by key, so a layer setting one option keeps
the other options of the layers below it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

KeyPath = tuple[str, ...]
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Source:
    """Where a setting came from.

    Attributes:
        kind: ``"default"``, ``"user"`` (user config file), ``"project"``
            (project config file), ``"env"`` or ``"cli"``.
        path: the config file, for ``user`` and ``project``.
        line: the line in ``path``, when known.
        env: the variable, for ``env``.
    """

    kind: str
    path: str | None = None
    line: int | None = None
    env: str | None = None

    def __str__(self) -> str:
        if self.path is not None:
            return f"{self.path}:{self.line}" if self.line else self.path
        if self.env is not None:
            return f"env {self.env}"
        return "command line" if self.kind == "cli" else self.kind

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: ``kind`` plus ``path``/``line`` or ``env`` when set."""
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("path", "line", "env"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


DEFAULT = Source("default")
CLI = Source("cli")


@dataclass(frozen=True)
class Setting:
    """A value and its source."""

    value: Any
    source: Source


Settings = dict[KeyPath, Setting]


def dotted(keys: KeyPath) -> str:
    """A key path written as in TOML: ``components."utils.echo".msg``."""
    return ".".join(k if _BARE_KEY.match(k) else json.dumps(k) for k in keys)


def toml_value(value: Any) -> str:
    """A value written as in TOML (strings quoted, booleans lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{dotted((k,))} = {toml_value(v)}" for k, v in value.items())
        return "{" + items + "}"
    return str(value)


def type_word(value: Any) -> str:
    """The TOML name of ``value``'s type, for error messages."""
    for kind, word in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (list, "array"),
        (dict, "table"),
    ):
        if isinstance(value, kind):
            return word
    return type(value).__name__


__all__ = [
    "CLI",
    "DEFAULT",
    "KeyPath",
    "Setting",
    "Settings",
    "Source",
    "dotted",
    "toml_value",
    "type_word",
]
