"""Check a component or an app file, and a scheduler's options, submitting nothing.

COMPONENT_OR_APPFILE and its arguments are those of `run`. Checked, and
every problem found is reported:

  1. the app: each bad field of the app file, or the component, its
     arguments and each bad field of the app it builds;
  2. the scheduler and each of its --cfg options;
  3. when both are fine, the scheduler's own dry-run checks (for local:
     that each role's image directory exists).

Prints "ok: ..." and exits 0, or prints each problem as "error: ..." and
exits 2 (1 when the only problem is a scheduler's engine that failed).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from torchrun_core.cli.app_target import (
    add_scheduler_arguments,
    add_target_arguments,
    load_app,
    print_component_help,
    target_runner,
    target_settings,
)
from torchrun_core.errors import InvalidOptionError, SpecError, TorchrunCoreError

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.specs.app import AppDef


@dataclass(frozen=True)
class Problem:
    """One thing wrong with what ``run`` would submit."""

    message: str
    hint: str | None = None
    exit_code: int = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_scheduler_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    add_target_arguments(parser, "validate")


def _problems_of(err: TorchrunCoreError, prefix: str = "") -> list[Problem]:
    """One problem per entry of a SpecError's or InvalidOptionError's ``errors``, else one."""
    entries: list[tuple[str, str]] = getattr(err, "errors", None) or []
    if isinstance(err, SpecError) and entries:
        return [Problem(f"{prefix}{path}: {msg}", err.hint, err.exit_code) for path, msg in entries]
    if isinstance(err, InvalidOptionError) and entries:
        scheduler = getattr(err, "scheduler", "scheduler")
        return [
            Problem(f"{scheduler} option {option!r}: {msg}", err.hint, err.exit_code)
            for option, msg in entries
        ]
    return [Problem(err.message, err.hint, err.exit_code)]


def _check_app(runner: Runner, args: argparse.Namespace) -> tuple[AppDef | None, list[Problem]]:
    """The target's AppDef, or the problems that keep it from being one."""
    try:
        return load_app(args, runner.registry), []
    except SpecError as err:
        return None, _problems_of(err, f"{args.component}: ")
    except TorchrunCoreError as err:
        if err.exit_code == 0:  # the component's --help: not a problem, shown by execute
            raise
        return None, _problems_of(err)


def _check_options(
    runner: Runner, args: argparse.Namespace
) -> tuple[dict[str, Any], list[Problem]]:
    """The ``--cfg`` options, and the problems the scheduler finds with them."""
    try:
        settings = target_settings(args)
        with settings.explained():
            runner.scheduler(settings.scheduler_name).parse_options(settings.cfg)
    except TorchrunCoreError as err:
        return {}, _problems_of(err)
    return settings.cfg, []


def check(runner: Runner, args: argparse.Namespace) -> tuple[AppDef | None, list[Problem]]:
    """Every problem with running the target on ``args.scheduler``; none means it would run."""
    app, problems = _check_app(runner, args)
    cfg, option_problems = _check_options(runner, args)
    problems += option_problems
    if app is not None and not problems:
        # The scheduler's own checks need a valid app and valid options.
        try:
            runner.dryrun(app, args.scheduler, cfg)
        except TorchrunCoreError as err:
            problems += _problems_of(err)
    return app, problems


def _summary(app: AppDef, scheduler: str) -> str:
    replicas = sum(role.num_replicas for role in app.roles)
    return (
        f"app {app.name!r} ({len(app.roles)} role(s), {replicas} replica(s)) "
        f"would run on scheduler {scheduler}"
    )


def _report(args: argparse.Namespace, app: AppDef | None, problems: list[Problem]) -> None:
    if args.json:
        from torchrun_core.cli.output import print_json

        result: dict[str, Any] = {
            "ok": not problems,
            "target": args.component,
            "scheduler": args.scheduler,
            "app": app.name if app is not None else None,
            "problems": [{"message": p.message, "hint": p.hint} for p in problems],
        }
        print_json(result)
        return
    if not problems:
        assert app is not None
        sys.stdout.write(f"ok: {args.component}: {_summary(app, args.scheduler)}\n")
        return
    sys.stdout.flush()
    lines = [f"error: {p.message}" for p in problems]
    hints = dict.fromkeys(p.hint for p in problems if p.hint)  # each once, in order
    lines += [f"hint: {hint}" for hint in hints]
    sys.stderr.write("\n".join(lines) + "\n")


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.component_loading.loader import ComponentHelpRequested

    with target_runner(args) as runner:
        try:
            app, problems = check(runner, args)
        except ComponentHelpRequested as help_request:
            return print_component_help(help_request)
    _report(args, app, problems)
    if not problems:
        return 0
    return 2 if any(p.exit_code == 2 for p in problems) else max(p.exit_code for p in problems)
