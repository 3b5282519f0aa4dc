"""Slurm field figures: list with 100 live apps, failure to FAILED, wait after an outage.

Usage: python benchmarks/bench_slurm_field.py [--repeat N] [--only list|failure|outage]

Against the site cluster of ``scripts/engines/slurm.sh`` (its ``status`` says
where), over SSH, from a Runner as a user has it:

- ``list`` of a page holding 100 live apps: SSH round trips and time, next
  to asking each app's status on its own (what ``list`` did before: one
  round trip per live app);
- seconds from a replica's failure (it writes the time, then exits 3) to
  ``wait`` returning FAILED, its 90 s sibling stopped;
- seconds from slurmctld answering again after a 15 s outage to ``wait``
  returning the app's final state.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import engine_command, isolated_state_dir, report, report_seconds
from bench_slurm import ENGINE_SH, _connection

from torchrun_core import AppDef, Role, get_runner
from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState


def _app(name: str, script: str, replicas: int = 1) -> AppDef:
    role = Role(name="w", image="", entrypoint="/bin/sh", args=["-c", script],
                num_replicas=replicas)  # fmt: skip
    return AppDef(name=name, roles=[role])


def _commands(runner: Runner) -> int:
    return int(runner.scheduler("slurm").transport().commands_run)  # type: ignore[attr-defined]


def bench_list(runner: Runner, repeat: int) -> None:
    handles = [runner.run(_app(f"live{i}", "sleep 600"), "slurm") for i in range(100)]
    try:
        runner.list(limit=100)  # warm
        trips, times = [], []
        for _ in range(repeat):
            before, start = _commands(runner), time.perf_counter()
            page = runner.list(limit=100)
            times.append(time.perf_counter() - start)
            trips.append(_commands(runner) - before)
        assert len(page) == 100
        sched = runner.scheduler("slurm")
        before, start = _commands(runner), time.perf_counter()
        for handle in handles:
            sched.describe(handle.app_id)
        one_by_one = time.perf_counter() - start
        per_app_trips = _commands(runner) - before
    finally:
        runner.cancel_many(handles, grace_period=0)
    report(
        "slurm list, a page of 100 live apps",
        f"{statistics.median(times) * 1000:.0f} ms, {statistics.median(trips):.0f} round trip(s)",
        "report",
        f"asking each app on its own: {one_by_one * 1000:.0f} ms, {per_app_trips} round trips",
    )


def bench_failure(runner: Runner, repeat: int) -> None:
    samples = []
    script = (
        'if [ "$TORCHRUN_CORE_REPLICA_ID" = 1 ]; then sleep 2; '
        'date +%s.%N > "$TORCHRUN_CORE_JOB_DIR/failed_at"; exit 3; fi; sleep 90'
    )
    for _ in range(repeat):
        handle = runner.run(_app("fail", script, replicas=2), "slurm")
        status = runner.wait(handle, timeout=120)
        ended = time.time()
        assert status.state is AppState.FAILED, status
        sched: Any = runner.scheduler("slurm")
        job_dir = sched.locate(handle.app_id)[2]
        failed_at = float(sched.transport().read_from(f"{job_dir}/failed_at", 0).decode())
        samples.append(ended - failed_at)
    report_seconds(
        "slurm, a replica's failure to wait returning FAILED (sibling stopped)",
        samples,
        f"median of {repeat}; before: the sibling ran its full 90 s (43-91 s)",
    )


def bench_outage(runner: Runner, repeat: int) -> None:
    samples = []
    for _ in range(repeat):
        handle = runner.run(_app("outage", "sleep 3; exit 0"), "slurm")
        runner.wait(handle, timeout=60, state=AppState.RUNNING)
        done: dict[str, float] = {}

        def wait(h: Any = handle, out: dict[str, float] = done) -> None:
            runner.wait(h, timeout=300)
            out["at"] = time.monotonic()

        engine_command(ENGINE_SH, "stop-ctld")
        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(15)
        engine_command(ENGINE_SH, "start-ctld")
        back = time.monotonic()
        waiter.join(300)
        samples.append(done["at"] - back)
    report_seconds(
        "slurm, wait returning after slurmctld is back (15 s outage)",
        samples,
        f"median of {repeat}; wait asks again with backoff of at most 10 s",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--only", choices=["list", "failure", "outage"], help="one figure instead of all"
    )
    args = parser.parse_args()
    conn = _connection()
    if conn is None:
        return
    with isolated_state_dir(), get_runner(scheduler_params={"slurm": conn}) as runner:
        for name, bench in (("list", bench_list), ("failure", bench_failure),
                            ("outage", bench_outage)):  # fmt: skip
            if args.only in (None, name):
                bench(runner, args.repeat)


if __name__ == "__main__":
    main()
