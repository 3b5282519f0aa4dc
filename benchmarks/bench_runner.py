"""Runner figures on the local scheduler: wait latency, dryrun, log_lines, 200 apps.

Usage: python benchmarks/bench_runner.py [--only NAME ...]
Names: wait, dryrun, logs, concurrency.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import isolated_state_dir, median_ms, report, time_call

from torchrun_core import AppDef, Role, get_runner


def bench_wait(repeat: int = 15) -> None:
    """Delay between the replica's last instruction and wait() returning."""
    lags = []
    with isolated_state_dir() as state, get_runner() as runner:
        for i in range(repeat):
            stamp = state / f"exit-{i}"
            code = (
                "import os,time; time.sleep(0.2); "
                f"open({str(stamp)!r},'w').write(repr(time.time())); os._exit(0)"
            )
            app = AppDef(
                name="exit",
                roles=[Role(name="r", entrypoint=sys.executable, args=["-S", "-c", code])],
            )
            handle = runner.run(app, "local")
            runner.wait(handle, timeout=30)
            returned = time.time()
            lags.append(returned - float(stamp.read_text()))
    report(
        "wait() return after the app's exit",
        f"{median_ms(lags):.1f} ms",
        "<= 20 ms",
        f"max {max(lags) * 1000:.1f} ms over {repeat}",
    )


def bench_dryrun(repeat: int = 30) -> None:
    app = AppDef(
        name="wide",
        roles=[
            Role(
                name="w",
                entrypoint="echo",
                args=["${replica_id}"],
                env={"A": "${app_id}"},
                num_replicas=1000,
            )
        ],
    )
    with isolated_state_dir(), get_runner() as runner:
        runner.dryrun(app, "local")  # warm the plugin registry and imports
        samples = time_call(lambda: runner.dryrun(app, "local"), repeat)
    report("dryrun 1 role x 1000 replicas (local)", f"{median_ms(samples):.1f} ms", "<= 15 ms")


def bench_logs(lines: int = 1_000_000, repeat: int = 5) -> None:
    app = AppDef(name="seq", roles=[Role(name="seq", entrypoint="seq", args=[str(lines)])])
    with isolated_state_dir(), get_runner() as runner:
        handle = runner.run(app, "local")
        runner.wait(handle, timeout=120).raise_for_status()
        rates, split = [], 0
        for _ in range(repeat):
            start = time.perf_counter()
            got = list(runner.log_lines(handle, "seq"))
            rates.append(len(got) / (time.perf_counter() - start))
            if len(got) != lines:
                raise SystemExit(f"expected {lines} lines, got {len(got)}")
        # every line whole and in order: exactly "1\n" ... "N\n"
        split = sum(1 for i, line in enumerate(got, 1) if line != f"{i}\n")
    report(
        "log_lines over 1,000,000 finished lines",
        f"{statistics.median(rates) / 1e6:.2f} M/s",
        ">= 3 M/s",
        f"{split} split or misordered lines",
    )


def bench_concurrency(n: int = 200) -> None:
    app = AppDef(name="nap", roles=[Role(name="nap", entrypoint="sleep", args=["0.5"])])
    with isolated_state_dir(), get_runner() as runner:
        runner.dryrun(app, "local")  # warm up imports and the registry
        start = time.perf_counter()
        handles = [runner.run(app, "local") for _ in range(n)]
        schedule_s = time.perf_counter() - start
        start = time.perf_counter()
        states = [runner.status(h).state for h in handles]
        pass_s = time.perf_counter() - start
        final = [runner.wait(h, timeout=120).state for h in handles]
    ok = sum(1 for s in final if s.value == "SUCCEEDED")
    report(f"schedule {n} concurrent `sleep 0.5` apps", f"{schedule_s * 1000:.0f} ms", "<= 1000 ms")
    report(
        f"one status pass over {n} apps",
        f"{pass_s * 1000:.1f} ms",
        "<= 50 ms",
        f"{states.count(states[0])} x {states[0].value} at pass time; {ok}/{n} SUCCEEDED",
    )


BENCHES = {
    "wait": bench_wait,
    "dryrun": bench_dryrun,
    "logs": bench_logs,
    "concurrency": bench_concurrency,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHES), default=list(BENCHES))
    for name in parser.parse_args().only:
        BENCHES[name]()


if __name__ == "__main__":
    main()
