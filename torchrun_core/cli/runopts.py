"""Show the run options of one scheduler (or of every scheduler): each option's
name, type, default and help. Give them to `run` as --cfg name=value,...

Without SCHED, a scheduler whose plugin cannot be loaded or made is shown as
one `cannot show its options:` line, and the others as usual (exit 0)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from torchrun_core.cli.output import add_json_flag, format_table, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scheduler", nargs="?", metavar="SCHED", help="default: every scheduler")
    add_json_flag(parser)


def scheduler_options(name: str) -> list[Any]:
    """The OptionInfo list of scheduler ``name``.

    Raises:
        UnknownSchedulerError: naming the installed schedulers.
    """
    from torchrun_core.registry import get_registry
    from torchrun_core.runner import get_runner

    factory = get_registry().scheduler_factory(name)
    if isinstance(factory, type) and hasattr(factory, "run_opts"):
        options: list[Any] = factory.run_opts()  # a Scheduler class: no instance needed
        return options
    with get_runner() as runner:  # a factory function: ask the scheduler it makes
        return runner.scheduler(name).run_opts()


def _default(option: Any) -> str:
    if option.required:
        return "(required)"
    return "-" if option.default is None else repr(option.default)


def every_scheduler_options() -> dict[str, list[Any] | str]:
    """Each scheduler's OptionInfo list, or why it cannot be shown (one line).

    One broken plugin must not hide the other schedulers' options.
    """
    from torchrun_core.errors import TorchrunCoreError
    from torchrun_core.registry import get_registry

    found: dict[str, list[Any] | str] = {}
    for name in get_registry().names("schedulers"):
        try:
            found[name] = scheduler_options(name)
        except TorchrunCoreError as err:
            found[name] = str(err)
        except Exception as err:  # a plugin's own bug, in its factory or run_opts
            found[name] = f"{type(err).__name__}: {err}"
    return found


def execute(args: argparse.Namespace) -> int:
    if args.scheduler:
        options: dict[str, list[Any] | str] = {args.scheduler: scheduler_options(args.scheduler)}
    else:
        options = every_scheduler_options()
    if args.json:
        print_json({n: o if isinstance(o, list) else {"error": o} for n, o in options.items()})
        return 0
    blocks = []
    for name, opts in options.items():
        if isinstance(opts, str):
            blocks.append(f"{name}: cannot show its options: {opts}\n")
            continue
        rows = [(o.name, o.type, _default(o), o.help) for o in opts]
        table = format_table(("NAME", "TYPE", "DEFAULT", "HELP"), rows) if rows else "(none)"
        blocks.append(f"{name}:\n" + "".join(f"  {line}\n" for line in table.splitlines()))
    sys.stdout.write("\n".join(blocks))
    return 0
