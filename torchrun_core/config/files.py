"""Find and read torchrun_core's TOML config files.

Two files can hold settings (see docs/configuration.md):

- the **project config**: the nearest of ``.torchrun_core.toml``,
  ``torchrun_core.toml`` or a ``pyproject.toml`` with a
  ``[tool.torchrun_core]`` table, looking in the cwd and then in each parent
  directory up to the root; ``$TORCHRUN_CORE_CONFIG`` names one instead;
- the **user config**: ``config.toml`` in the user's config dir
  (platformdirs; ``$TORCHRUN_CORE_USER_CONFIG_DIR`` overrides it).

Reading a file gives its torchrun_core table and the line of every key, for
error messages and ``config show``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torchrun_core.config.settings import KeyPath
from torchrun_core.errors import ConfigError

CONFIG_ENV = "TORCHRUN_CORE_CONFIG"
USER_CONFIG_DIR_ENV = "TORCHRUN_CORE_USER_CONFIG_DIR"
PROJECT_FILE_NAMES = (".torchrun_core.toml", "torchrun_core.toml")
PYPROJECT = "pyproject.toml"
USER_FILE_NAME = "config.toml"
PYPROJECT_TABLE: KeyPath = ("tool", "torchrun_core")

# A cheap test before parsing a pyproject.toml: most never mention torchrun_core.
_MENTIONS_TABLE = re.compile(
    r"\btool\s*\.\s*[\"']?torchrun_core\b|^\s*\[\s*tool\s*\]", re.MULTILINE
)
_TOML_POSITION = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


@dataclass
class ConfigFile:
    """One config file that was read: its settings table and where each key is.

    Attributes:
        path: the file.
        kind: ``"project"`` or ``"user"``.
        data: the torchrun_core settings (the whole file, or its
            ``[tool.torchrun_core]`` table for a pyproject.toml).
        prefix: the key path of ``data`` in the file (``("tool", "torchrun_core")``
            for a pyproject.toml, else empty).
        lines: key path (in the file) -> line.
    """

    path: Path
    kind: str
    data: dict[str, Any]
    prefix: KeyPath = ()
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, keys: KeyPath) -> int | None:
        """The line of ``keys`` (a path inside ``data``), or of the nearest enclosing table."""
        from torchrun_core.config.lines import line_of

        return line_of(self.lines, self.prefix + keys) or line_of(self.lines, self.prefix)

    def where(self, keys: KeyPath) -> str:
        """``path:line`` of ``keys``, or just the path when the line is unknown."""
        line = self.line_of(keys)
        return f"{self.path}:{line}" if line else str(self.path)


def read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text of ``path`` and its parsed TOML.

    Raises:
        ConfigError: the file cannot be read or is not valid TOML, naming the
            file, line and column.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        raise ConfigError(f"cannot read config file {path}: {reason}", path=str(path)) from None
    return text, parse_toml(text, path)


def parse_toml(text: str, path: Path) -> dict[str, Any]:
    """Parse ``text``; a syntax error becomes a ConfigError at ``path:line:column``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # the backport, a dependency on Python 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        match = _TOML_POSITION.search(message)
        reason = message[: match.start()] if match else message
        if match and match[1]:
            place = f"{path}:{match[1]}:{match[2]}"
        else:  # "at end of document": the last line
            place = f"{path}:{text.count(chr(10)) + (0 if text.endswith(chr(10)) else 1)}"
        raise ConfigError(
            f"{place}: invalid TOML: {reason}",
            hint="see the TOML syntax at https://toml.io",
            path=str(path),
        ) from None


def load_file(path: Path, kind: str) -> ConfigFile | None:
    """Read a config file; None for a pyproject.toml without ``[tool.torchrun_core]``.

    Raises:
        ConfigError: unreadable or invalid TOML, or a torchrun_core table that
            is not a table.
    """
    if path.name == PYPROJECT:
        text = _read_text(path)
        if not _MENTIONS_TABLE.search(text):
            return None
        data: Any = parse_toml(text, path)
        for key in PYPROJECT_TABLE:
            data = data.get(key) if isinstance(data, dict) else None
        if data is None:
            return None
        prefix = PYPROJECT_TABLE
    else:
        text, data = read_toml(path)
        prefix = ()
    from torchrun_core.config.lines import key_lines  # only when there is a file

    found = ConfigFile(path, kind, {}, prefix, key_lines(text))
    if not isinstance(data, dict):
        raise ConfigError(
            f"{found.where(())}: {'.'.join(prefix)} must be a table",
            path=str(path),
            key=".".join(prefix),
        )
    found.data = data
    return found


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read config file {path}: {err}", path=str(path)) from None


def find_project_file(start: Path) -> ConfigFile | None:
    """The nearest project config at or above ``start``, or None.

    In one directory ``.torchrun_core.toml`` wins over ``torchrun_core.toml``,
    which wins over ``pyproject.toml``; a pyproject.toml without a
    ``[tool.torchrun_core]`` table does not count, and the search goes on
    in the parent directory.
    """
    for directory in (start, *start.parents):
        for name in (*PROJECT_FILE_NAMES, PYPROJECT):
            candidate = directory / name
            if candidate.is_file():
                found = load_file(candidate, "project")
                if found is not None:
                    return found
    return None


def explicit_config_path(environ: Mapping[str, str]) -> Path | None:
    """The file named by ``$TORCHRUN_CORE_CONFIG``, or None when unset or empty.

    Raises:
        ConfigError: it names no file.
    """
    value = environ.get(CONFIG_ENV, "")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.exists():
        raise ConfigError(
            f"{CONFIG_ENV} names {value!r}, which does not exist",
            hint=f"point it at a TOML file, or unset {CONFIG_ENV}",
            key=CONFIG_ENV,
        )
    return path.absolute()


def user_config_path(environ: Mapping[str, str]) -> Path:
    """``config.toml`` in the user's config dir (which need not exist)."""
    override = environ.get(USER_CONFIG_DIR_ENV, "")
    if override:
        return Path(override).expanduser().absolute() / USER_FILE_NAME
    import platformdirs

    return Path(platformdirs.user_config_dir("torchrun_core", appauthor=False)) / USER_FILE_NAME


__all__ = [
    "CONFIG_ENV",
    "PROJECT_FILE_NAMES",
    "USER_CONFIG_DIR_ENV",
    "USER_FILE_NAME",
    "ConfigFile",
    "explicit_config_path",
    "find_project_file",
    "load_file",
    "parse_toml",
    "read_toml",
    "user_config_path",
]
