"""Print exactly what `run` would submit, and submit nothing (the same as `run --dryrun`).

COMPONENT_OR_APPFILE and its arguments are those of `run`. The output is
the scheduler's native request (for local: each replica's argv, cwd, env and
log paths). Values of secret-looking env vars (names containing TOKEN,
SECRET, PASSWORD, KEY, ...) are shown as ***.
"""

from __future__ import annotations

import argparse

from torchrun_core.cli.app_target import (
    add_scheduler_arguments,
    add_target_arguments,
    dryrun_target,
    print_component_help,
    print_dryrun,
    target_runner,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_scheduler_arguments(parser)
    parser.add_argument("--parent-run-id", help="link the run to a parent run (trackers)")
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        help="show what DIR would become (docker, kubernetes: the image to build and push; "
        "nothing is built)",
    )
    parser.add_argument("--json", action="store_true", help="print it as JSON")
    add_target_arguments(parser, "dryrun")


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.component_loading.loader import ComponentHelpRequested

    with target_runner(args) as runner:
        try:
            info = dryrun_target(runner, args)
        except ComponentHelpRequested as help_request:
            return print_component_help(help_request)
        print_dryrun(info, args.json)
    return 0
