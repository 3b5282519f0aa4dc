"""torchrun_core's configuration: TOML files and ``TORCHRUN_CORE_*`` env, merged key by key.

Precedence, highest first: the command line, the environment
(:mod:`torchrun_core.config.env`), the project config (the nearest
``.torchrun_core.toml``, ``torchrun_core.toml`` or pyproject.toml with
``[tool.torchrun_core]`` from the cwd up, or ``$TORCHRUN_CORE_CONFIG``), the
user config (``config.toml`` in the platformdirs user config dir), then the
defaults. Every value keeps its :class:`Source`, which ``torchrun-core config
show`` prints. See docs/configuration.md.

The config applies to the command line (``run``, ``dryrun``, ``validate``):
a :class:`Runner` used from Python takes exactly what it is given, and a
program that wants the config reads it with :func:`load_config`::

    config = load_config()
    scheduler = config.scheduler().value
    cfg = {k: s.value for k, s in config.scheduler_options(scheduler).items()}
    runner = get_runner(tracker_config=config.tracker_config())
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.config.env import env_settings
from torchrun_core.config.files import (
    ConfigFile,
    explicit_config_path,
    find_project_file,
    load_file,
    user_config_path,
)
from torchrun_core.config.settings import CLI, DEFAULT, KeyPath, Setting, Settings, Source

if TYPE_CHECKING:
    from torchrun_core.config.apply import RunSettings

DEFAULT_SCHEDULER = "local"

_FileKey = tuple[str, str, str]  # (cwd, $TORCHRUN_CORE_CONFIG, user config file)
_files_cache: dict[_FileKey, tuple[ConfigFile | None, ConfigFile | None, Settings]] = {}


class Config:
    """The configuration seen from one directory with one environment.

    Attributes:
        project: the project config file, or None.
        user: the user config file, or None when it does not exist.
        user_path: where the user config file is looked for.
    """

    def __init__(
        self,
        project: ConfigFile | None,
        user: ConfigFile | None,
        user_path: Path,
        file_settings: Settings,
        environ: Mapping[str, str],
    ) -> None:
        self.project = project
        self.user = user
        self.user_path = user_path
        self._files = file_settings
        self._environ = environ

    def settings(self, schedulers: Iterable[str] = ()) -> Settings:
        """Every setting, merged: defaults, user file, project file, then env.

        ``schedulers`` are scheduler names that env variables may refer to
        beyond those the files name (see :func:`config_env.env_settings`).
        """
        merged: Settings = {("scheduler",): Setting(DEFAULT_SCHEDULER, DEFAULT)}
        merged.update(self._files)
        known = {k[1] for k in self._files if k[0] == "schedulers"} | set(schedulers)
        known.add(str(merged[("scheduler",)].value))
        trackers = [k[1] for k in self._files if k[0] == "trackers"]
        merged.update(env_settings(self._environ, sorted(known), dict.fromkeys(trackers)))
        return merged

    def scheduler(self, cli: str | None = None) -> Setting:
        """The scheduler to use: ``cli`` (``-s``) if given, else the configured default."""
        if cli:
            return Setting(cli, CLI)
        return self.settings()[("scheduler",)]

    def scheduler_options(self, scheduler: str) -> dict[str, Setting]:
        """Run option name -> setting, for ``scheduler`` (not yet checked against its model)."""
        return _table(self.settings([scheduler]), ("schedulers", scheduler))

    def component_defaults(self, component: str) -> dict[str, Setting]:
        """Argument name -> default for ``component`` (as named on the command line)."""
        return _table(self.settings(), ("components", component))

    def tracker_config(self) -> dict[str, str | None] | None:
        """Tracker name -> config for the Runner; None when nothing configures trackers.

        None lets the Runner read ``TORCHRUN_CORE_TRACKERS`` itself, as
        without a config.
        """
        settings = self.settings()
        names = dict.fromkeys(k[1] for k in settings if k[0] == "trackers")
        if not names:
            return None
        out: dict[str, str | None] = {}
        for name in names:
            enabled = settings.get(("trackers", name, "enabled"))
            if enabled is None or enabled.value:
                config = settings.get(("trackers", name, "config"))
                out[name] = None if config is None else str(config.value)
        return out

    def for_run(
        self,
        scheduler: str | None,
        cfg: Mapping[str, Any],
        component: str | None = None,
        component_args: Sequence[str] = (),
    ) -> RunSettings:
        """What ``run``/``dryrun``/``validate`` use: the config under the command line's values.

        Args:
            scheduler: ``-s``, or None.
            cfg: the ``--cfg`` options.
            component: the component, or None for an app file.
            component_args: the component's arguments on the command line.
        """
        from torchrun_core.config.apply import RunSettings

        chosen = self.scheduler(scheduler)
        options = self.scheduler_options(str(chosen.value))
        options.update((key, Setting(value, CLI)) for key, value in cfg.items())
        defaults = self.component_defaults(component) if component else {}
        return RunSettings(chosen, options, defaults, list(component_args), self.tracker_config())


def _table(settings: Settings, table: KeyPath) -> dict[str, Setting]:
    depth = len(table)
    return {
        key[depth]: setting
        for key, setting in settings.items()
        if len(key) == depth + 1 and key[:depth] == table
    }


def load_config(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration seen from ``cwd`` (default: the cwd) with ``environ`` (os.environ).

    Files are read once per process for the same cwd and file locations.

    Raises:
        ConfigError: a config file is unreadable, not valid TOML, or has an
            unknown key or a bad value (naming the file, line and key), or
            ``$TORCHRUN_CORE_CONFIG`` names no file.
    """
    env = os.environ if environ is None else environ
    where = Path.cwd() if cwd is None else Path(cwd).absolute()
    explicit = explicit_config_path(env)
    user_path = user_config_path(env)
    key = (str(where), str(explicit or ""), str(user_path))
    if key not in _files_cache:
        _files_cache[key] = _read_files(where, explicit, user_path)
    project, user, settings = _files_cache[key]
    return Config(project, user, user_path, settings, env)


def _read_files(
    cwd: Path, explicit: Path | None, user_path: Path
) -> tuple[ConfigFile | None, ConfigFile | None, Settings]:
    project = load_file(explicit, "project") if explicit else find_project_file(cwd)
    user = load_file(user_path, "user") if user_path.is_file() else None
    settings: Settings = {}
    for found in (user, project):  # lowest first: later files override earlier keys
        if found is not None:
            from torchrun_core.config.model import file_settings  # pydantic: only with a file

            settings.update(file_settings(found))
    return project, user, settings


def clear_cache() -> None:
    """Forget the files read so far (for a long-lived process whose files changed)."""
    _files_cache.clear()


__all__ = ["DEFAULT_SCHEDULER", "Config", "Setting", "Source", "clear_cache", "load_config"]
