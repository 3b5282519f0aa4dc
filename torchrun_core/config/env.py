"""The settings given by ``TORCHRUN_CORE_*`` environment variables.

They rank above both config files and below the command line:

- ``TORCHRUN_CORE_SCHEDULER=NAME``: the default scheduler;
- ``TORCHRUN_CORE_SCHEDULER_<SCHED>_CFG="k=v,k2=v2"``: run options of
  scheduler ``<SCHED>``, written as for ``--cfg``. ``<SCHED>`` is the
  scheduler's name upper-cased, with every character other than a letter or
  a digit written as ``_`` (``my-sched`` -> ``MY_SCHED``). The scheduler name
  sits between a fixed prefix and a fixed suffix and the option names are in
  the value, so no name needs splitting at an ``_``;
- ``TORCHRUN_CORE_TRACKERS=a,b``: exactly these trackers (a config file's
  other trackers are turned off); set but empty, none;
- ``TORCHRUN_CORE_TRACKER_<NAME>_CONFIG``: the config of tracker ``<NAME>``.

Component argument defaults have no variable: give them on the command line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from torchrun_core.config.settings import Setting, Settings, Source
from torchrun_core.errors import ConfigError

SCHEDULER_ENV = "TORCHRUN_CORE_SCHEDULER"
TRACKERS_ENV = "TORCHRUN_CORE_TRACKERS"
_SCHEDULER_CFG_ENV = re.compile(r"^TORCHRUN_CORE_SCHEDULER_(\w+)_CFG$")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def env_part(name: str) -> str:
    """``name`` as it appears inside a variable name: upper case, ``_`` for the rest."""
    return _NOT_ALNUM.sub("_", name).upper()


def scheduler_cfg_env(scheduler: str) -> str:
    """``TORCHRUN_CORE_SCHEDULER_<SCHED>_CFG`` for ``scheduler``."""
    return f"TORCHRUN_CORE_SCHEDULER_{env_part(scheduler)}_CFG"


def parse_assignments(text: str, where: str) -> dict[str, str]:
    """``"a=1,b=x,y"`` -> ``{"a": "1", "b": "x,y"}`` (a piece without ``=`` continues a value).

    Raises:
        ConfigError: a piece before any ``key=``, naming ``where``.
    """
    out: dict[str, str] = {}
    last: str | None = None
    for piece in text.split(","):
        key, eq, value = piece.partition("=")
        if eq and key.strip():
            last = key.strip()
            out[last] = value.strip()
        elif last is not None:
            out[last] += "," + piece
        elif piece.strip():
            raise ConfigError(
                f"{where}={text!r}: expected key=value[,key2=value2...]",
                hint=f"e.g. {where}=grace_period=2,log_dir=/tmp/logs",
                key=where,
            )
    return out


def env_settings(
    environ: Mapping[str, str], schedulers: Iterable[str], trackers: Iterable[str]
) -> Settings:
    """The settings from ``environ``.

    Args:
        environ: the environment.
        schedulers: scheduler names known otherwise (config files, the
            scheduler in use), so that ``..._MY_SCHED_CFG`` is shown under
            ``my-sched`` rather than ``my_sched``.
        trackers: the trackers the config files name.

    Raises:
        ConfigError: a malformed ``TORCHRUN_CORE_SCHEDULER_<SCHED>_CFG``.
    """
    out: Settings = {}
    if environ.get(SCHEDULER_ENV):
        out[("scheduler",)] = Setting(environ[SCHEDULER_ENV], Source("env", env=SCHEDULER_ENV))
    known = {env_part(name): name for name in schedulers}
    for var in sorted(environ):
        match = _SCHEDULER_CFG_ENV.match(var)
        if match:
            name = known.get(match[1], match[1].lower())
            for key, value in parse_assignments(environ[var], var).items():
                out[("schedulers", name, key)] = Setting(value, Source("env", env=var))
    out.update(_tracker_settings(environ, list(trackers)))
    return out


def _tracker_settings(environ: Mapping[str, str], file_trackers: list[str]) -> Settings:
    from torchrun_core.tracking.env import tracker_config_env

    out: Settings = {}
    names = list(file_trackers)
    if TRACKERS_ENV in environ:
        chosen = [n.strip() for n in environ[TRACKERS_ENV].split(",") if n.strip()]
        source = Source("env", env=TRACKERS_ENV)
        for name in dict.fromkeys([*names, *chosen]):
            out[("trackers", name, "enabled")] = Setting(name in chosen, source)
        names += chosen
    for name in dict.fromkeys(names):
        var = tracker_config_env(name)
        if environ.get(var):
            out[("trackers", name, "config")] = Setting(environ[var], Source("env", env=var))
    return out


__all__ = [
    "SCHEDULER_ENV",
    "TRACKERS_ENV",
    "env_part",
    "env_settings",
    "parse_assignments",
    "scheduler_cfg_env",
]
