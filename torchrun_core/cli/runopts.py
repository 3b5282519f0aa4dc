"""Show the run options of one scheduler (or of every scheduler): each option's
name, type, default and help. Give them to `run` as --cfg name=value,..."""

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
    from torchrun_core.plugins import get_registry
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


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.plugins import get_registry

    names = [args.scheduler] if args.scheduler else get_registry().names("schedulers")
    options = {name: scheduler_options(name) for name in names}
    if args.json:
        print_json(options)
        return 0
    blocks = []
    for name, opts in options.items():
        rows = [(o.name, o.type, _default(o), o.help) for o in opts]
        table = format_table(("NAME", "TYPE", "DEFAULT", "HELP"), rows) if rows else "(none)"
        blocks.append(f"{name}:\n" + "".join(f"  {line}\n" for line in table.splitlines()))
    sys.stdout.write("\n".join(blocks))
    return 0
