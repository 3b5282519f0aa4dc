"""The dashboard (``torchrun-core ui``) against a real uvicorn server in a subprocess.

Figures: the runs page over 100,000 runs (first page, filters, next page by
cursor), a job's printed line to the event-stream reader, a metric of
100,000 points as a chart series and as the full list, and the server's CPU
while idle and while a browser follows a quiet job's log.

Times are client-observed over one keep-alive connection (httpx.Client): the
server's time plus loopback (``GET /api/meta`` gives that floor). The store
is filled through the store's own connection in one transaction (terminal
runs only, so no scheduler is asked); the metric points are written by the
``file`` tracker's backend in this process; the log job is a real local job.

Usage: python benchmarks/bench_ui.py [--runs N] [--points N] [--repeat N] [--idle-s S]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import httpx
from _common import VENV_BIN, isolated_state_dir, median_ms, report

from torchrun_core import AppDef, Role, get_runner
from torchrun_core.runstore import RunStore
from torchrun_core.runstore.query import RUN_COLUMNS
from torchrun_core.runstore.record import stored_app_json
from torchrun_core.specs.state import AppState
from torchrun_core.tracking import AppRun, RunContext
from torchrun_core.tracking.file_backend import FileBackend

STATES = [("SUCCEEDED", 70), ("FAILED", 20), ("CANCELLED", 10)]  # terminal: no scheduler asked
SCHEDULERS = [("local", 50), ("docker", 25), ("kubernetes", 15), ("slurm", 10)]
BASES = ["train", "eval", "sweep"]
METRICS_HANDLE = "local://default/metrics-100k"
URL_LINE = re.compile(r"serving (http://\S+)")
CLK_TCK = os.sysconf("SC_CLK_TCK")

TICKER = """
import time
time.sleep({lead})
for i in range({n}):
    print(f"tick {{i}} {{time.time():.6f}}", flush=True)
    time.sleep({every})
"""
QUIET = "import time; print('started', flush=True); time.sleep({s})"


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def app_json_of(name: str) -> str:
    """What the Runner stores of a typical app: one role, two replicas, some env."""
    role = Role(
        name="trainer",
        entrypoint="python",
        args=["-m", "train", "--lr", "3e-4", "--epochs", "10"],
        env={"TORCHRUN_CORE_TRACKER_FILE_CONFIG": "", "OMP_NUM_THREADS": "4"},
        num_replicas=2,
    )
    return stored_app_json(AppDef(name=name, roles=[role]))


def fill_store(store: RunStore, runs: int) -> None:
    """``runs`` terminal runs (names ``train-0``...``sweep-99``), one a second up to now.

    One transaction through the store's own connection (``add_run`` takes one
    per run: ~0.4 ms each, 40 s for 100k).
    """
    rng = random.Random(16)
    start = time.time() - runs
    apps: dict[str, str] = {}
    rows, events = [], []
    for i in range(runs):
        name = f"{rng.choice(BASES)}-{rng.randrange(100)}"
        app = apps.get(name) or apps.setdefault(name, app_json_of(name))
        scheduler, state = _pick(rng, SCHEDULERS), _pick(rng, STATES)
        app_id = f"{name}-{i:07d}"
        handle, created = f"{scheduler}://default/{app_id}", start + i
        rows.append((handle, scheduler, "default", app_id, name, state, created, created + 60,
                     None, "{}", app, None))  # fmt: skip
        events.append((handle, state, created + 60))
    with store._write() as db:
        db.executemany(f"INSERT INTO runs ({RUN_COLUMNS}) VALUES ({','.join('?' * 12)})", rows)
        db.executemany("INSERT INTO events (handle, idx, state, at) VALUES (?, 1, ?, ?)", events)


def write_metrics(store: RunStore, points: int) -> None:
    """A finished run with ``points`` points of ``loss`` through the ``file`` tracker."""
    store.add_run(
        METRICS_HANDLE, scheduler="local", session="default", app_id="metrics-100k",
        app_name="metrics", app_json=None, state=AppState.SUCCEEDED,
    )  # fmt: skip
    rng = random.Random(3)
    context = RunContext(METRICS_HANDLE, None, "trainer", "0", "host", os.getpid())
    run = AppRun(context, [("file", FileBackend(None))])
    for step in range(points):
        run.log_metric("loss", 1.0 / (step + 1) + rng.random() * 0.01, step=step)
    run.close()


# -- the server ------------------------------------------------------------------
@contextlib.contextmanager
def ui_server() -> Iterator[tuple[str, int]]:
    """``torchrun-core ui --port 0``: its URL and pid; stopped with SIGINT at exit."""
    cli = VENV_BIN / "torchrun-core"
    argv = [str(cli)] if cli.exists() else [sys.executable, "-m", "torchrun_core"]
    proc = subprocess.Popen([*argv, "ui", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = URL_LINE.search(line)
        if found is None:
            raise SystemExit(f"torchrun-core ui printed {line!r}")
        yield found[1].rstrip("/"), proc.pid
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
            print("torchrun-core ui did not stop on SIGINT within 10 s: killed", flush=True)
        if code != 0:
            print(f"torchrun-core ui exited with {code}", flush=True)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_percent(pid: int, seconds: float) -> float:
    """The process's CPU over the next ``seconds`` of wall time, in percent of one core."""
    cpu, wall = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (cpu_seconds(pid) - cpu) / (time.monotonic() - wall)


def timed_get(client: httpx.Client, path: str, params: dict[str, Any], repeat: int) -> tuple:
    """Client-observed seconds of ``repeat`` GETs (after 2 warm-ups), and the last response."""
    for _ in range(2):
        client.get(path, params=params).raise_for_status()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path, params=params)
        samples.append(time.perf_counter() - start)
        response.raise_for_status()
    return samples, response


def _ms(samples: list[float]) -> str:
    return f"{median_ms(samples):.1f} ms"


# -- the figures -----------------------------------------------------------------
def bench_runs(client: httpx.Client, runs: int, repeat: int) -> None:
    floor, _ = timed_get(client, "/api/meta", {}, repeat)
    report("GET /api/meta (loopback + framework floor)", _ms(floor), "-")
    both = {"state": "FAILED", "name": "train-1%"}
    cases = [
        ("newest first, no filter", {}),
        ("state=FAILED", {"state": "FAILED"}),
        ("name=train-1%", {"name": "train-1%"}),
        ("state=FAILED&name=train-1%", both),
        ("name=nomatch% (worst: reads every row)", {"name": "nomatch%"}),
    ]
    for label, query in cases:
        samples, response = timed_get(client, "/api/runs", query, repeat)
        body = response.json()
        note = f"{len(body['runs'])} runs, {len(response.content) / 1024:.0f} KiB over {runs:,}"
        report(f"GET /api/runs {label}", _ms(samples), "report", note)
        if label.startswith("newest") or query is both:
            cursor = body["next_cursor"]
            samples, response = timed_get(client, "/api/runs", {**query, "cursor": cursor}, repeat)
            shown = "no filter" if not query else "state+name"
            report(f"GET /api/runs page 2 by cursor ({shown})", _ms(samples), "report")


def bench_metrics(client: httpx.Client, points: int, repeat: int) -> None:
    params = {"handle": METRICS_HANDLE, "max_points": 2000}
    samples, response = timed_get(client, "/api/run/series", params, repeat)
    series = [s for tag in response.json()["tags"] for s in tag["series"]]
    returned = sum(len(s["values"]) for s in series)
    assert sum(s["count"] for s in series) == points, series
    note = f"{returned:,} of {points:,} points, {len(response.content) / 1024:.0f} KiB"
    report("GET /api/run/series max_points=2000", _ms(samples), "report", note)
    full, response = timed_get(client, "/api/run/metrics", {"handle": METRICS_HANDLE}, repeat)
    note = f"{len(response.json()):,} points, {len(response.content) / 1e6:.1f} MB"
    report("GET /api/run/metrics (full list)", _ms(full), "report", note)


def sse_events(response: httpx.Response) -> Iterator[tuple[str, str, float]]:
    """(event, data, receive time) of a server-sent event stream; comments are ('', '', t)."""
    event = ""
    for line in response.iter_lines():
        if line.startswith(":"):
            yield "", "", time.time()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            yield event, line[5:].strip(), time.time()
            event = ""


def bench_log_delay(client: httpx.Client, runner: Any, lines: int, every: float) -> None:
    """A real local job prints stamped lines; the delay each takes to come out of the stream."""
    code = TICKER.format(lead=1.0, n=lines, every=every)
    role = Role(name="tick", entrypoint=sys.executable, args=["-u", "-c", code])
    app = AppDef(name="ticker", roles=[role])
    handle = str(runner.run(app, "local"))
    delays: list[float] = []
    try:
        params = {"handle": handle, "skip": 0}
        with client.stream("GET", "/api/run/logs/stream", params=params, timeout=60) as response:
            response.raise_for_status()
            connected = None
            for event, data, received in sse_events(response):
                if connected is None:
                    connected = received
                if event == "end":
                    break
                if event != "lines":
                    continue
                for line in json.loads(data):
                    stamp = float(line.split()[2])
                    if stamp >= connected:  # a line printed before the stream opened waited for it
                        delays.append(received - stamp)
    finally:
        runner.cancel(handle)
    if len(delays) < 30:
        raise SystemExit(f"only {len(delays)} lines came through the stream")
    delays.sort()
    p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
    report(
        "job prints a line -> SSE reader has it, median",
        f"{statistics.median(delays) * 1000:.0f} ms",
        "report",
        f"p95 {p95 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms over {len(delays)} lines",
    )


def bench_cpu(client: httpx.Client, runner: Any, pid: int, seconds: float) -> None:
    """The server's CPU: idle; following a quiet running job; after that follower left."""
    time.sleep(1.0)  # let the previous figure's work settle
    idle = cpu_percent(pid, seconds)
    report(
        f"server CPU, idle ({seconds:.0f} s, no requests)", f"{idle:.2f} %", "report", "of one core"
    )
    role = Role(name="q", entrypoint=sys.executable, args=["-c", QUIET.format(s=3 * seconds + 30)])
    app = AppDef(name="quiet", roles=[role])
    handle = str(runner.run(app, "local"))
    try:
        params = {"handle": handle, "skip": 0}
        with client.stream("GET", "/api/run/logs/stream", params=params, timeout=60) as response:
            response.raise_for_status()
            for event, data, _ in sse_events(response):
                if event == "lines" and "started" in json.loads(data):
                    break
            held = cpu_percent(pid, seconds)
        note = "1 SSE client, no new lines"
        report("server CPU, following a quiet running job's log", f"{held:.2f} %", "report", note)
        time.sleep(1.0)
        left = cpu_percent(pid, seconds)
        note = "job still running, quiet"
        report("server CPU, after that client closed the stream", f"{left:.2f} %", "report", note)
    finally:
        runner.cancel(handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--idle-s", type=float, default=10.0)
    args = parser.parse_args()
    with isolated_state_dir(), get_runner() as runner:
        start = time.perf_counter()
        store = RunStore()
        fill_store(store, args.runs)
        write_metrics(store, args.points)
        store.close()
        report(
            f"fill: {args.runs:,} runs + {args.points:,} metric points",
            f"{time.perf_counter() - start:.1f} s",
            "-",
        )
        with ui_server() as (url, pid), httpx.Client(base_url=url, timeout=60) as client:
            bench_runs(client, args.runs, args.repeat)
            bench_metrics(client, args.points, max(3, args.repeat // 3))
            bench_log_delay(client, runner, lines=50, every=0.2)
            bench_cpu(client, runner, pid, args.idle_s)


if __name__ == "__main__":
    main()
