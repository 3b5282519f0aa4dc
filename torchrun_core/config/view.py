"""The effective configuration as ``torchrun-core config show`` prints it.

Besides the settings themselves it lists every run option of the schedulers
in play (the default scheduler and every scheduler the config names) with
its default, and checks the configured options against each installed
scheduler's options model, so that a bad option is reported here rather
than at the next run. Options of a scheduler that is not installed are
shown unchecked, with a note: a user config may serve several machines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torchrun_core.config.settings import DEFAULT, KeyPath, Setting, Source, dotted, toml_value
from torchrun_core.errors import InvalidOptionError, UnknownSchedulerError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from torchrun_core.config import Config
    from torchrun_core.registry import PluginRegistry


@dataclass(frozen=True)
class ShownSetting:
    """One line of ``config show``."""

    key: KeyPath
    value: Any
    source: Source

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": dotted(self.key),
            "keys": list(self.key),
            "value": self.value,
            "source": self.source.as_dict(),
        }


@dataclass
class ConfigView:
    """The files consulted, every effective setting, and notes about unchecked parts."""

    project: str | None
    user: str
    user_found: bool
    settings: list[ShownSetting] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": {
                "project": self.project,
                "user": self.user if self.user_found else None,
                "user_searched": self.user,
            },
            "settings": [s.to_dict() for s in self.settings],
            "notes": self.notes,
        }

    def to_text(self) -> str:
        user = self.user if self.user_found else f"{self.user} (not found)"
        lines = [f"# project config: {self.project or '(none found)'}", f"# user config:    {user}"]
        lines += [f"# note: {note}" for note in self.notes]
        pairs = [(f"{dotted(s.key)} = {_shown(s.value)}", str(s.source)) for s in self.settings]
        width = min(60, max((len(p) for p, _ in pairs), default=0))
        lines += [f"{pair.ljust(width)}  # {source}" for pair, source in pairs]
        return "\n".join(lines) + "\n"


def _shown(value: Any) -> str:
    return "(not set)" if value is None else toml_value(value)


def options_model(name: str, registry: PluginRegistry) -> type[BaseModel] | str:
    """The options model of scheduler ``name``, or why there is none to check against."""
    try:
        factory = registry.scheduler_factory(name)
    except UnknownSchedulerError:
        return "is not installed"
    model = getattr(factory, "Options", None)
    if isinstance(factory, type) and isinstance(model, type):
        return model
    # A factory function: its options model is only known once it makes a scheduler.
    return "is made by a factory function"


def check_options(scheduler: str, model: type[BaseModel], options: dict[str, Setting]) -> None:
    """Validate ``options`` with ``model``.

    Raises:
        InvalidOptionError: naming the first bad option and where it is set.
    """
    from pydantic import ValidationError

    try:
        model.model_validate({k: s.value for k, s in options.items()})
    except ValidationError as err:
        first = err.errors()[0]
        option = ".".join(str(p) for p in first["loc"])
        message = "unknown option" if first["type"] == "extra_forbidden" else first["msg"]
        setting = options.get(option)
        where = f"{setting.source}: " if setting else ""
        raise InvalidOptionError(
            f"{where}{scheduler} option {option!r}: {message.removeprefix('Value error, ')}",
            hint=f"see the options with: torchrun-core runopts {scheduler}",
            option=option,
            scheduler=scheduler,
        ) from None


def _scheduler_rows(
    name: str, options: dict[str, Setting], registry: PluginRegistry, notes: list[str]
) -> list[ShownSetting]:
    model = options_model(name, registry)
    if isinstance(model, str):
        notes.append(f"scheduler {name!r} {model}: its options are not checked")
        return [
            ShownSetting(("schedulers", name, k), s.value, s.source) for k, s in options.items()
        ]
    check_options(name, model, options)
    rows = []
    for option, info in model.model_fields.items():
        setting = options.get(option)
        if setting is None and info.is_required():
            continue  # a required option has no default to show
        if setting is None:
            setting = Setting(info.get_default(call_default_factory=True), DEFAULT)
        rows.append(ShownSetting(("schedulers", name, option), setting.value, setting.source))
    return rows


def config_view(config: Config, registry: PluginRegistry | None = None) -> ConfigView:
    """Everything ``config show`` prints, the scheduler options checked.

    Raises:
        InvalidOptionError: a configured option is unknown or has a bad value
            for an installed scheduler (naming the file and line, or variable).
    """
    if registry is None:
        from torchrun_core.registry import get_registry

        registry = get_registry()
    scheduler = config.scheduler()
    settings = config.settings([str(scheduler.value)])
    view = ConfigView(
        str(config.project.path) if config.project else None,
        str(config.user_path),
        config.user is not None,
    )
    view.settings.append(ShownSetting(("scheduler",), scheduler.value, scheduler.source))
    names = dict.fromkeys([str(scheduler.value), *(k[1] for k in settings if k[0] == "schedulers")])
    for name in names:
        options = config.scheduler_options(name)
        view.settings += _scheduler_rows(name, options, registry, view.notes)
    # Grouped by component and tracker; within one, in the order the files give them.
    rest = [kv for kv in settings.items() if kv[0][0] in ("components", "trackers")]
    for key, setting in sorted(rest, key=lambda kv: kv[0][:2]):
        view.settings.append(ShownSetting(key, setting.value, setting.source))
    return view


__all__ = ["ConfigView", "ShownSetting", "check_options", "config_view", "options_model"]
