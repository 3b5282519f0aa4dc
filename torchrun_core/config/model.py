"""The schema of a config file, and its validation into flat settings.

A file (or the ``[tool.torchrun_core]`` table of a pyproject.toml) may hold::

    scheduler = "local"                  # the default scheduler

    [schedulers.local]                   # run option defaults, per scheduler
    grace_period = 2

    [components."utils.echo"]            # argument defaults, per component
    msg = "hi"

    [trackers.file]                      # trackers injected into every job
    config = "/tmp/runs"

Unknown keys and values of the wrong type are :class:`ConfigError`s naming
the file, the line and the key. Scheduler options are only checked here for
being a table: their names and values are checked against the scheduler's
own options model when that scheduler is used (see :mod:`torchrun_core.config`).
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from torchrun_core.config.files import ConfigFile
from torchrun_core.config.settings import (
    KeyPath,
    Setting,
    Settings,
    Source,
    dotted,
    toml_value,
    type_word,
)
from torchrun_core.errors import ConfigError

_SCALARS = (str, int, float, bool)
_TRACKER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_EXPECTED = {
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _check_component_arg(value: Any) -> Any:
    """A component argument default is a scalar, or an array or table of scalars."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value):
        return value
    if isinstance(value, dict) and all(isinstance(v, _SCALARS) for v in value.values()):
        return value
    raise ValueError("expected a string, number, boolean, or an array or table of these")


ComponentArg = Annotated[Any, AfterValidator(_check_component_arg)]


class TrackerTable(BaseModel):
    """``[trackers.NAME]``: a tracker injected into every launched job."""

    model_config = ConfigDict(extra="forbid", strict=True)

    config: str | None = Field(None, description="the tracker's config (a path, a URI, ...)")
    enabled: bool = Field(True, description="false: a lower config's tracker is not injected")


class ConfigTable(BaseModel):
    """The whole config file, or pyproject.toml's ``[tool.torchrun_core]``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    scheduler: str | None = Field(None, description="the scheduler used when -s is not given")
    schedulers: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="scheduler name -> run option defaults"
    )
    components: dict[str, dict[str, ComponentArg]] = Field(
        default_factory=dict, description="component name -> argument defaults"
    )
    trackers: dict[str, TrackerTable] = Field(
        default_factory=dict, description="tracker name -> its settings"
    )


def file_settings(file: ConfigFile) -> Settings:
    """The settings of one config file, each with its file and line.

    Raises:
        ConfigError: an unknown key or a value of the wrong type, naming the
            file, the line and the key (the first one in the file).
    """
    try:
        ConfigTable.model_validate(file.data)
    except ValidationError as err:
        raise _first_error(file, err) from None
    _check_names(file)
    return _flatten(file)


def _first_error(file: ConfigFile, err: ValidationError) -> ConfigError:
    def line(error: Any) -> int:
        return file.line_of(_keys(error["loc"])) or 0

    first = min(err.errors(), key=line)
    keys = _keys(first["loc"])
    if first["type"] == "extra_forbidden":
        return _unknown_key(file, keys)
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] in _EXPECTED:
        message = f"expected {_EXPECTED[first['type']]}"
    value = first["input"]
    return ConfigError(
        f"{file.where(keys)}: {dotted(keys)}: {message}, got {type_word(value)} "
        f"{toml_value(value)}",
        hint=_table_help(file, keys[:-1]),
        path=str(file.path),
        line=file.line_of(keys),
        key=dotted(keys),
    )


def _keys(loc: tuple[int | str, ...]) -> KeyPath:
    return tuple(str(part) for part in loc)


def _valid_keys(table: KeyPath) -> list[str]:
    if not table:
        return list(ConfigTable.model_fields)
    if len(table) == 2 and table[0] == "trackers":
        return list(TrackerTable.model_fields)
    return []


def _table_name(file: ConfigFile, table: KeyPath) -> str:
    path = file.prefix + table
    return f"in [{dotted(path)}]" if path else "at the top level"


def _table_help(file: ConfigFile, table: KeyPath) -> str:
    valid = _valid_keys(table)
    if not valid:
        return "see the Configuration page of the docs for the file's format"
    return f"valid keys {_table_name(file, table)}: {', '.join(valid)}"


def _unknown_key(file: ConfigFile, keys: KeyPath) -> ConfigError:
    valid = _valid_keys(keys[:-1])
    close = difflib.get_close_matches(keys[-1], valid, n=1)
    hint = _table_help(file, keys[:-1])
    if close:
        hint = f"did you mean {close[0]!r}? {hint}"
    return ConfigError(
        f"{file.where(keys)}: unknown key {dotted(keys)!r}",
        hint=hint,
        path=str(file.path),
        line=file.line_of(keys),
        key=dotted(keys),
    )


def _check_names(file: ConfigFile) -> None:
    """Names the schema cannot check: an empty scheduler, an odd tracker name."""
    if file.data.get("scheduler") == "":
        raise ConfigError(
            f'{file.where(("scheduler",))}: scheduler: expected a scheduler name, got ""',
            hint="see the installed schedulers with: torchrun-core runopts",
            path=str(file.path),
            key="scheduler",
        )
    for name in file.data.get("trackers", {}):
        if not _TRACKER_NAME.match(name):
            keys = ("trackers", name)
            raise ConfigError(
                f"{file.where(keys)}: invalid tracker name {name!r}",
                hint="use letters, digits, '_', '.' and '-'",
                path=str(file.path),
                key=dotted(keys),
            )


def _flatten(file: ConfigFile) -> Settings:
    def setting(keys: KeyPath, value: Any) -> tuple[KeyPath, Setting]:
        return keys, Setting(value, Source(file.kind, str(file.path), file.line_of(keys)))

    data = file.data
    out: Settings = {}
    if "scheduler" in data:
        out.update([setting(("scheduler",), data["scheduler"])])
    for group in ("schedulers", "components"):
        for name, table in data.get(group, {}).items():
            out.update(setting((group, name, key), value) for key, value in table.items())
    for name, table in data.get("trackers", {}).items():
        # A [trackers.NAME] table turns the tracker on unless it says otherwise.
        out.update([setting(("trackers", name, "enabled"), table.get("enabled", True))])
        if "config" in table:
            out.update([setting(("trackers", name, "config"), table["config"])])
    return out


__all__ = ["ConfigTable", "TrackerTable", "file_settings"]
