"""Tracking figures: logging metrics through the file backend, and reading them back.

Usage: python benchmarks/bench_tracking.py [--only NAME ...] [--points N] [--repeat R]
Names: log, read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import VENV_BIN, isolated_state_dir, median_ms, report, time_call, time_command

from torchrun_core.runner import get_runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.tracking import AppRun, RunContext
from torchrun_core.tracking.file_backend import FileBackend

JOB = """
from torchrun_core.tracking import app_run
run = app_run()
for step in range({n}):
    run.log_metric("loss", 1.0 / (step + 1), step=step)
run.report_progress("train", {n}, {n}, "steps")
"""


def bench_log(points: int, repeat: int) -> None:
    """``log_metric`` from one process, file backend, flushed and closed at the end."""
    rates = []
    for _ in range(repeat):
        root = Path(tempfile.mkdtemp(prefix="trc-bench-tracking-"))
        context = RunContext("local://bench/app", None, "r", "0", "host", os.getpid())
        run = AppRun(context, [("file", FileBackend(str(root)))])
        start = time.perf_counter()
        for step in range(points):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.close()
        rates.append(points / (time.perf_counter() - start))
        shutil.rmtree(root, ignore_errors=True)
    rates.sort()
    report(
        f"log_metric x {points:,} (file backend, 1 process)",
        f"{rates[len(rates) // 2] / 1000:.0f}k metrics/s",
        ">= 50k metrics/s",
        f"min {rates[0] / 1000:.0f}k over {repeat}",
    )


def bench_read(points: int, repeat: int) -> None:
    """``Runner.metrics`` and ``torchrun-core metrics`` over a real local job's points."""
    with isolated_state_dir(), get_runner() as runner:
        code = JOB.format(n=points)
        role = Role(name="r", entrypoint=sys.executable, args=["-c", code])
        app = AppDef(name="log", roles=[role])
        handle = str(runner.run(app, "local"))
        status = runner.wait(handle, timeout=300)
        assert status.state.value == "SUCCEEDED", status
        found = len(runner.metrics(handle, progress=False))
        assert found == points, found
        api = time_call(lambda: runner.metrics(handle), repeat)
        cli = VENV_BIN / "torchrun-core"
        argv = [str(cli), "metrics", handle] if cli.exists() else [
            sys.executable, "-m", "torchrun_core", "metrics", handle,
        ]  # fmt: skip
        text = time_command(argv, repeat, env=dict(os.environ))
        as_json = time_command([*argv, "--json"], repeat, env=dict(os.environ))
    shown = f"{points:,} points"
    report(f"Runner.metrics() of {shown}", f"{median_ms(api):.0f} ms", "<= 500 ms")
    report(f"torchrun-core metrics ({shown}, table)", f"{median_ms(text):.0f} ms", "<= 500 ms")
    report(f"torchrun-core metrics --json ({shown})", f"{median_ms(as_json):.0f} ms", "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=["log", "read"], default=["log", "read"])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if "log" in args.only:
        bench_log(args.points, args.repeat)
    if "read" in args.only:
        bench_read(args.points, args.repeat)


if __name__ == "__main__":
    main()
