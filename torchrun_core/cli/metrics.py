"""Show the metrics and progress a job reported through the ``file`` tracker.

Metrics come first, by tag then step; the latest progress report of each
replica and operation follows. For speed this reads the run store and the
files directly (no Runner, so no pydantic import and no ``on_event``
observation) and prints the table with one write.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from torchrun_core.cli.output import add_json_flag

if TYPE_CHECKING:
    from torchrun_core.tracking.records import MetricPoint


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("handle", metavar="HANDLE", help="scheduler://session/app_id")
    parser.add_argument("--tag", metavar="T", help="only this metric (or progress operation)")
    parser.add_argument(
        "--step", type=int, metavar="N", help="only points at global step N (hides progress)"
    )
    add_json_flag(parser)


def execute(args: argparse.Namespace) -> int:
    from torchrun_core.runstore import RunStore
    from torchrun_core.specs.handle import parse_handle
    from torchrun_core.tracking.run_lookup import job_side_root, read_tracked, select_metrics

    store = RunStore()
    try:
        data = read_tracked(store, parse_handle(args.handle))
        elsewhere = job_side_root(store, parse_handle(args.handle))
    finally:
        store.close()
    points = select_metrics(data, args.tag, args.step)
    if args.json:  # one point per line: a JSON array that also greps well
        lines = ",\n".join(json.dumps(p.to_dict()) for p in points)
        sys.stdout.write(f"[\n{lines}\n]\n" if points else "[]\n")
        return 0
    metrics = [p for p in points if p.kind == "metric"]
    progress = _latest_progress([p for p in points if p.kind == "progress"])
    if not metrics and not progress:
        where = f" here: its file tracker wrote where it ran, in {elsewhere}" if elsewhere else ""
        sys.stderr.write(f"no metrics recorded for {args.handle}{where}\n")
        return 0
    out: list[str] = []
    if metrics:
        out.append(_metric_table(metrics))
    if progress:
        out.append(_progress_table(progress))
    sys.stdout.write("\n\n".join(out) + "\n")
    return 0


def _latest_progress(points: Sequence[MetricPoint]) -> list[MetricPoint]:
    latest = {(p.source, p.tag): p for p in sorted(points, key=lambda p: p.timestamp)}
    return list(latest.values())


def _columns(headers: Sequence[str], columns: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, one format per row (fast for 100k rows)."""
    pairs = zip(headers, columns, strict=True)
    widths = [max(len(h), max(map(len, c), default=0)) for h, c in pairs]
    row_format = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    rows = [row_format.format(*headers), *map(row_format.format, *columns)]
    return "\n".join(rows)


def _metric_table(points: Sequence[MetricPoint]) -> str:
    return _columns(
        ("TAG", "STEP", "VALUE", "SOURCE"),
        (
            [p.tag for p in points],
            ["-" if p.step is None else str(p.step) for p in points],
            [f"{p.value:.6g}" for p in points],
            [p.source for p in points],
        ),
    )


def _progress_table(points: Sequence[MetricPoint]) -> str:
    return _columns(
        ("PROGRESS", "VALUE", "FINAL", "UNITS", "SOURCE"),
        (
            [p.tag for p in points],
            [f"{p.value:g}" for p in points],
            ["-" if p.final_value is None else f"{p.final_value:g}" for p in points],
            [p.units or "-" for p in points],
            [p.source for p in points],
        ),
    )
