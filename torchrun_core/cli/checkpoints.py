"""Show the checkpoints a job recorded: path, global step, and whether each is complete."""

from __future__ import annotations

import argparse
import sys

from torchrun_core.cli.output import add_json_flag, format_time, print_json, print_table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handle", metavar="HANDLE", help="scheduler://session/app_id")
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    # The run store and the files directly, as `metrics` does (no Runner: no pydantic).
    from torchrun_core.runstore import RunStore
    from torchrun_core.specs.handle import parse_handle
    from torchrun_core.tracking.run_lookup import read_tracked

    store = RunStore()
    try:
        checkpoints = read_tracked(store, parse_handle(args.handle)).checkpoints
    finally:
        store.close()
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
