"""Show the checkpoints a job recorded: path, global step, and whether each is complete."""

from __future__ import annotations

import argparse
import sys

from torchrun_core.cli.output import add_json_flag, format_time, print_json, print_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handle", metavar="HANDLE", help="scheduler://session/app_id")
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.runner import get_runner

    with get_runner() as runner:
        checkpoints = runner.checkpoints(args.handle)
    if args.json:
        print_json(checkpoints)
        return 0
    if not checkpoints:
        sys.stderr.write(f"no checkpoints recorded for {args.handle}\n")
        return 0
    print_table(
        ("STEP", "STATUS", "RECORDED", "SOURCE", "PATH"),
        [
            (
                c.step,
                "complete" if c.complete else "incomplete",
                format_time(c.timestamp),
                c.source,
                c.path,
            )
            for c in checkpoints
        ],
    )
    return 0
