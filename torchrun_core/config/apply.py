"""Apply the configuration to one run, and say which config line a bad value came from.

Component argument defaults reach the component as command-line words put
before the user's own (``--msg=hi``), so the component loader needs no
special path for them. An argument the user gives replaces the default
entirely: its default is left out, so that a list or dict argument is not
merged with it.

A scheduler option or component argument taken from a config file or env
variable and then rejected (by the scheduler's options model, or by the
component's parser) is reported at its file and line, or its variable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from torchrun_core.config.settings import Setting, dotted
from torchrun_core.errors import (
    ComponentError,
    ConfigError,
    InvalidOptionError,
    UnknownSchedulerError,
)

# Messages of the component parser (argparse) about one argument.
_ARGPARSE_MESSAGE = re.compile(r"^component \S+: (argument |unrecognized arguments: )")


def _words(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def argument_words(name: str, setting: Setting) -> list[str]:
    """The command-line words for argument ``name`` with the setting's value.

    ``--name=value`` (so that a value starting with ``-`` stays a value),
    ``--name``/``--no-name`` for a boolean, ``--name=a,b`` for an array and
    ``--name=k=v,k2=v2`` for a table.

    Raises:
        ConfigError: an array item or table value contains ``,``, which the
            command line would split.
    """
    value = setting.value
    if isinstance(value, bool):
        return [f"--{name}" if value else f"--no-{name}"]
    if isinstance(value, (list, dict)):
        items = [_words(v) for v in value] if isinstance(value, list) else list(value.values())
        if any("," in _words(item) for item in items):
            raise ConfigError(
                f"{setting.source}: argument {name!r}: an item contains ',', "
                "which the command line would split",
                hint="remove the comma, or give this argument on the command line",
                key=name,
            )
        if isinstance(value, dict):
            return [f"--{name}=" + ",".join(f"{k}={_words(v)}" for k, v in value.items())]
        return [f"--{name}=" + ",".join(items)]
    return [f"--{name}={value}"]


def _option_words(args: Sequence[str]) -> Sequence[str]:
    """The words before a bare ``--`` (after it, everything is a value)."""
    return args[: list(args).index("--")] if "--" in args else args


def given_arguments(args: Sequence[str]) -> set[str]:
    """Names of the ``--name``/``--name=v``/``--no-name`` arguments among ``args``.

    A word in the remaining arguments of a ``*args`` component can look like
    an option too; then its default is left out, and the user can give it.
    """
    names: set[str] = set()
    for word in _option_words(args):
        if word.startswith("--"):
            name = word[2:].partition("=")[0]
            names.add(name)
            if name.startswith("no-"):
                names.add(name[3:])
    return names


def wants_help(args: Sequence[str]) -> bool:
    """``-h``/``--help`` among the options: show help, apply no default (a bad one would fail)."""
    return any(word in ("-h", "--help") for word in _option_words(args))


@dataclass
class RunSettings:
    """The effective settings of one ``run``/``dryrun``/``validate``.

    Attributes:
        scheduler: the scheduler to use, and where that came from.
        options: run option -> setting (the command line's ``--cfg`` included).
        defaults: the component's argument defaults from the config.
        user_args: the component's arguments on the command line.
        tracker_config: for :class:`~torchrun_core.runner.Runner` (None: its own default).
    """

    scheduler: Setting
    options: dict[str, Setting]
    defaults: dict[str, Setting]
    user_args: list[str]
    tracker_config: dict[str, str | None] | None
    applied: dict[str, Setting] = field(default_factory=dict)

    @property
    def scheduler_name(self) -> str:
        return str(self.scheduler.value)

    @property
    def cfg(self) -> dict[str, Any]:
        """The run options to give the scheduler."""
        return {key: setting.value for key, setting in self.options.items()}

    @property
    def component_args(self) -> list[str]:
        """The component's arguments: the config's defaults, then the user's.

        Raises:
            ConfigError: a default cannot be written as command-line words.
        """
        if wants_help(self.user_args):
            return list(self.user_args)
        given = given_arguments(self.user_args)
        self.applied = {k: s for k, s in self.defaults.items() if k not in given}
        words = [w for name, s in self.applied.items() for w in argument_words(name, s)]
        return words + self.user_args

    @contextmanager
    def explained(self, component: str | None = None) -> Iterator[None]:
        """Re-raise an error caused by a configured value as one naming its file and line."""
        try:
            yield
        except InvalidOptionError as err:
            better = self._option_error(err)
            if better is err:
                raise
            raise better from err
        except UnknownSchedulerError as err:
            if self.scheduler.source.kind != "cli":
                where = f"the scheduler is set at {self.scheduler.source}"
                err.hint = f"{err.hint}; {where}" if err.hint else where
            raise
        except ComponentError as err:
            better_error = self._component_error(err, component)
            if better_error is err:
                raise
            raise better_error from err

    def _option_error(self, err: InvalidOptionError) -> InvalidOptionError:
        option = getattr(err, "option", None)
        setting = self.options.get(str(option))
        if setting is None or setting.source.kind == "cli":
            return err
        # Every (option, message) entry names where a configured option is set.
        entries = [(name, self._located(name, msg)) for name, msg in getattr(err, "errors", [])]
        return InvalidOptionError(
            f"{setting.source}: {err.message}",
            hint=err.hint,
            option=option,
            scheduler=getattr(err, "scheduler", self.scheduler_name),
            source=str(setting.source),
            errors=entries,
        )

    def _located(self, option: str, message: str) -> str:
        setting = self.options.get(option)
        if setting is None or setting.source.kind == "cli":
            return message
        return f"{message} (set at {setting.source})"

    def _component_error(self, err: ComponentError, component: str | None) -> ComponentError:
        if not _ARGPARSE_MESSAGE.match(err.message):
            return err
        for name, setting in self.applied.items():
            if re.search(rf"--(no-)?{re.escape(name)}(?=[=/:\s,]|$)", err.message):
                # "component X: argument --name: invalid int value: 'x'" -> "invalid int ..."
                reason = re.sub(r"^argument \S+: ", "", err.message.split(": ", 1)[1])
                key = dotted(("components", component or "?", name))
                return ComponentError(
                    f"{setting.source}: {key}: {reason}",
                    hint=f"see its arguments with: torchrun-core run {component} --help",
                    component=component,
                    source=str(setting.source),
                )
        return err


__all__ = ["RunSettings", "argument_words", "given_arguments", "wants_help"]
