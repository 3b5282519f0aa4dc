"""What ``run``, ``dryrun`` and ``validate`` act on: a component with its arguments, or an app file.

The three commands share their arguments (``-s``, ``--cfg``, then
``COMPONENT_OR_APPFILE`` and its arguments) and the way a target becomes an
AppDef and a dry run, so that ``validate`` and ``dryrun`` check and show
exactly what ``run`` would submit.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import ComponentError, InvalidInputError

if TYPE_CHECKING:
    from torchrun_core.component_loading.loader import ComponentHelpRequested
    from torchrun_core.config.apply import RunSettings
    from torchrun_core.registry import PluginRegistry
    from torchrun_core.runner import Runner
    from torchrun_core.specs.app import AppDef
    from torchrun_core.specs.dryrun import AppDryRunInfo

APP_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def add_scheduler_arguments(parser: argparse.ArgumentParser) -> None:
    """``-s/--scheduler`` and ``--cfg``."""
    parser.add_argument(
        "-s",
        "--scheduler",
        help="the scheduler to use (default: the configured one, else local)",
    )
    parser.add_argument(
        "--cfg",
        action="append",
        default=[],
        metavar="K=V,...",
        help="scheduler run options, comma-separated, repeatable (see: torchrun-core runopts)",
    )


def add_target_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """``COMPONENT_OR_APPFILE`` and its arguments; add it after the command's own options."""
    parser.add_argument("component", metavar="COMPONENT_OR_APPFILE")
    parser.add_argument(
        "component_args", nargs=argparse.REMAINDER, metavar="...", help="the component's arguments"
    )
    # Kept to spot the command's options given after the component (see hint_misplaced),
    # with those taking a value, so that the hint moves the value along. -h/--help after
    # the component asks for the component's help: never misplaced.
    actions = [a for a in parser._actions if not {"-h", "--help"} & set(a.option_strings)]
    own = sorted({s for a in actions for s in a.option_strings})
    valued = sorted({s for a in actions if a.nargs != 0 for s in a.option_strings})
    parser.set_defaults(target_command=command, target_own_options=own, target_valued=valued)


def parse_cfg(items: list[str]) -> dict[str, str]:
    """``["a=1,b=2", "c=3"]`` -> ``{"a": "1", "b": "2", "c": "3"}``.

    A piece without ``=`` continues the previous value (``a=x,y`` -> ``x,y``).

    Raises:
        InvalidInputError: for a piece before any ``key=``.
    """
    cfg: dict[str, str] = {}
    for item in items:
        last: str | None = None
        for piece in item.split(","):
            key, eq, value = piece.partition("=")
            if eq and key.strip():
                last = key.strip()
                cfg[last] = value.strip()
            elif last is not None:
                cfg[last] += "," + piece
            elif piece.strip():
                raise InvalidInputError(
                    f"bad --cfg {item!r}: expected key=value[,key2=value2...]",
                    hint="see the options with: torchrun-core runopts <scheduler>",
                )
    return cfg


def is_app_file(target: str) -> bool:
    """True for a target read as an app file (by its suffix), not a component."""
    return target.lower().endswith(APP_FILE_SUFFIXES)


def _reject_app_file_args(args: argparse.Namespace) -> None:
    if args.component_args:
        err = InvalidInputError(
            f"an app file takes no arguments, got {' '.join(args.component_args)!r}",
            hint="change the file, or use a component instead",
        )
        hint_misplaced_options(err, args)
        raise err


def load_app(args: argparse.Namespace, registry: PluginRegistry) -> AppDef:
    """The AppDef of the target: read from the app file, or built by the component.

    Raises:
        ComponentHelpRequested: the component's ``--help`` was asked for.
        ComponentError: with a hint for the command's options given after the component.
        SpecError: the file or the component's app is invalid.
    """
    if is_app_file(args.component):
        _reject_app_file_args(args)
        from torchrun_core.specs.app import AppDef

        return AppDef.from_file(args.component)
    from torchrun_core.component_loading.loader import build_app

    settings = target_settings(args)
    try:
        with settings.explained(args.component):
            return build_app(args.component, settings.component_args, registry)
    except ComponentError as err:
        hint_misplaced_options(err, args)
        raise


def dryrun_target(runner: Runner, args: argparse.Namespace) -> AppDryRunInfo[Any]:
    """The scheduler's dry run of the target, as ``run`` would submit it.

    Raises:
        ComponentHelpRequested, ComponentError, SpecError: see :func:`load_app`.
        InvalidInputError: a bad ``--cfg``, scheduler or option.
    """
    settings = target_settings(args)
    common: dict[str, Any] = {
        "scheduler": settings.scheduler_name,
        "cfg": settings.cfg,
        "parent_run_id": getattr(args, "parent_run_id", None),
        "workspace": getattr(args, "workspace", None),
    }
    if is_app_file(args.component):
        app = load_app(args, runner.registry)
        with settings.explained():
            return runner.dryrun(app, **common)
    try:
        with settings.explained(args.component):
            return runner.dryrun_component(args.component, settings.component_args, **common)
    except ComponentError as err:
        hint_misplaced_options(err, args)
        raise


def target_settings(args: argparse.Namespace) -> RunSettings:
    """The config applied under the command line: scheduler, options, component arguments.

    Read once per command; sets ``args.scheduler`` to the scheduler chosen.

    Raises:
        ConfigError: a bad config file or ``TORCHRUN_CORE_*`` setting.
        InvalidInputError: a bad ``--cfg``.
    """
    settings: RunSettings | None = getattr(args, "run_settings", None)
    if settings is None:
        from torchrun_core.config import load_config

        component = None if is_app_file(args.component) else args.component
        cfg = parse_cfg(args.cfg)
        settings = load_config().for_run(args.scheduler, cfg, component, args.component_args)
        args.run_settings = settings
        args.scheduler = settings.scheduler_name
    return settings


def target_runner(args: argparse.Namespace) -> Runner:
    """A Runner with the configured trackers; reads the config (see :func:`target_settings`)."""
    from torchrun_core.runner import get_runner

    return get_runner(tracker_config=target_settings(args).tracker_config)


def hint_misplaced_options(err: InvalidInputError, args: argparse.Namespace) -> None:
    """Point out the command's own options given after the target (they go before it)."""
    misplaced = _misplaced(args)
    if misplaced:
        command = getattr(args, "target_command", "run")
        what = "app file" if is_app_file(args.component) else "component"
        err.hint = (
            f"options of {command} itself go before the {what}: "
            f"torchrun-core {command} {' '.join(misplaced)} {args.component} ..."
        )


def _misplaced(args: argparse.Namespace) -> list[str]:
    """The command's own options among the component's arguments, each with its value."""
    own = set(getattr(args, "target_own_options", ()))
    valued = set(getattr(args, "target_valued", ()))
    words, found = list(args.component_args), []
    for i, word in enumerate(words):
        if word.split("=")[0] not in own:
            continue
        found.append(word)
        if word in valued and i + 1 < len(words):  # "-s acme": the value is the next word
            found.append(words[i + 1])
    return found


def print_component_help(help_request: ComponentHelpRequested) -> int:
    """Show the component's arguments (``COMPONENT --help``); the exit code is 0."""
    sys.stdout.write(help_request.help_text)
    return 0


def print_notes(info: AppDryRunInfo[Any]) -> None:
    """The dry run's notes for the user (the file tracker is off...), one line each on stderr."""
    for note in info.notes:
        sys.stderr.write(f"note: {note}\n")


def print_dryrun(info: AppDryRunInfo[Any], as_json: bool) -> None:
    """The request the scheduler would get, secret env values redacted; its notes on stderr."""
    print_notes(info)
    if not as_json:
        sys.stdout.write(f"{info}".rstrip("\n") + "\n")
        return
    from torchrun_core.cli.app_view import redacted_app_dict
    from torchrun_core.cli.output import print_json

    print_json(
        {
            "scheduler": info.scheduler,
            "session": info.session,
            "app_id": info.app_id,
            "app": redacted_app_dict(info.app),
            "request": str(info),
        }
    )
