"""The base of the app specs: every way of building one raises SpecError, never pydantic's error.

pydantic's own ``ValidationError`` prints each bad ``input_value``, so an env
value (a token, a password) would reach logs and terminals. A spec's
constructor and its ``model_validate*`` class methods therefore turn it into
a :class:`~torchrun_core.errors.SpecError` that names only field paths and
what is wrong with them.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from torchrun_core.errors import SpecError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
_NAME_RE = re.compile(NAME_PATTERN)

# Where the spec's fields and limits are described; the hint of spec and app file errors.
APP_FILE_HINT = "see the fields of an app and their limits with: torchrun-core schema"


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("roles", 0, "env")`` -> ``roles[0].env``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def spec_error(
    err: ValidationError, source: str = "app spec", hint: str | None = APP_FILE_HINT
) -> SpecError:
    """One SpecError whose message names every bad field path.

    Only pydantic's ``msg`` is used: its templates describe the expected
    value, never the given one (which may be a secret).
    """
    errors = [(field_path(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in err.errors()]
    return spec_error_of(errors, source, hint)


def spec_error_of(
    errors: list[tuple[str, str]], source: str, hint: str | None = APP_FILE_HINT
) -> SpecError:
    """The SpecError listing ``errors`` (``(field_path, message)`` pairs) found in ``source``."""
    shown = "; ".join(f"{path}: {msg}" for path, msg in errors[:5])
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return SpecError(f"invalid {source}: {shown}{more}", errors=errors, hint=hint)


def _source(cls: type[BaseModel], data: Any) -> str:
    """``Role 'trainer'``: the class, and the name when it is a valid one (never other input)."""
    name = data.get("name") if isinstance(data, dict) else None
    if isinstance(name, str) and len(name) <= 63 and _NAME_RE.match(name):
        return f"{cls.__name__} {name!r}"
    return cls.__name__


class SpecModel(BaseModel):
    """Frozen, strict-about-fields model whose every constructor raises SpecError."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise spec_error(err, _source(type(self), data)) from None

    # How pydantic marks its own __init__: without it, pydantic would call this
    # one for every nested spec too, and an app's error would lose its field
    # paths (roles[0].env) to the inner Role's one-line SpecError.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """As pydantic's, raising SpecError."""
        return cls.validate_as(obj, _source(cls, obj), *args, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: Any, *args: Any, **kwargs: Any) -> Self:
        """As pydantic's, raising SpecError."""
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as err:
            raise spec_error(err, cls.__name__) from None

    @classmethod
    def model_validate_strings(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """As pydantic's, raising SpecError."""
        try:
            return super().model_validate_strings(obj, *args, **kwargs)
        except ValidationError as err:
            raise spec_error(err, _source(cls, obj)) from None

    @classmethod
    def validate_as(
        cls, obj: Any, source: str, *args: Any, hint: str | None = APP_FILE_HINT, **kwargs: Any
    ) -> Self:
        """Validate ``obj``; a SpecError names ``source`` (a file, a component) and has ``hint``."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as err:
            raise spec_error(err, source, hint) from None

    def _replace(self, **update: Any) -> Self:
        # model_copy(update=) skips validation; a spec must stay valid.
        data = self.model_dump()
        data.update(update)
        return type(self).validate_as(data, _source(type(self), data))
