"""`list` over a run store of 100,000 runs: one filter, limit 50 (Runner.list and the CLI).

The store is filled directly with SQL (one transaction, seconds), once, and
reused by every figure. A third of the runs are live (SUBMITTED, PENDING,
RUNNING) on the local scheduler with app ids that do not exist, so each
listing asks the local scheduler about the live runs that can be on its page.

Usage: python benchmarks/bench_list.py [--runs N] [--repeat N]
"""

from __future__ import annotations

import argparse
import functools
import random
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import VENV_BIN, isolated_state_dir, median_ms, report, time_call, time_command

from torchrun_core import get_runner
from torchrun_core.runstore import RunStore
from torchrun_core.specs.state import AppState

NAMES = ["train", "eval", "sweep-lr", "sweep-wd", "finetune", "Train_Big", "probe", "export"]
TERMINAL = [("SUCCEEDED", 45), ("FAILED", 15), ("CANCELLED", 5)]
LIVE = [("RUNNING", 15), ("PENDING", 12), ("SUBMITTED", 8)]
SCHEDULERS = [("local", 50), ("docker", 25), ("kubernetes", 15), ("slurm", 10)]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def fill_store(store: RunStore, runs: int) -> list[str]:
    """Insert ``runs`` runs with one event each; returns the handles of a few parents."""
    store.get("x://s/none")  # creates the schema
    rng = random.Random(7)
    start = time.time() - runs  # one run a second, up to now
    rows: list[tuple[Any, ...]] = []
    parents: list[str] = []
    for i in range(runs):
        state = _pick(rng, TERMINAL + LIVE)
        # Live runs are local apps that do not exist: the scheduler answers "unknown".
        scheduler = "local" if state in dict(LIVE) else _pick(rng, SCHEDULERS)
        name = rng.choice(NAMES)
        app_id = f"{name.lower()}-{i:07d}"
        handle = f"{scheduler}://default/{app_id}"
        parent = rng.choice(parents) if parents and rng.random() < 0.2 else None
        if i % 1000 == 0:
            parents.append(handle)
        created = start + i
        rows.append((handle, scheduler, "default", app_id, name, state, created, created, parent))
    db = sqlite3.connect(store.path, isolation_level=None)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO runs (handle, scheduler, session, app_id, app_name, state, created_at, "
        "updated_at, parent_run_id) VALUES (?,?,?,?,?,?,?,?,?)",
        rows,
    )
    db.executemany(
        "INSERT INTO events (handle, idx, state, at) VALUES (?, 1, ?, ?)",
        [(r[0], r[5], r[6]) for r in rows],
    )
    db.execute("COMMIT")
    db.close()
    return parents


def bench_api(runs: int, repeat: int, parents: list[str]) -> None:
    """Runner.list with one filter and limit 50, in process (store and plugins warm)."""
    cases: dict[str, dict[str, Any]] = {
        "scheduler=local": {"scheduler": "local"},
        "states=[RUNNING]": {"states": [AppState.RUNNING]},
        "states=[CANCELLED] (rare)": {"states": [AppState.CANCELLED]},
        "name='sweep%'": {"name": "sweep%"},
        "name='%big' (ILIKE)": {"name": "%big"},
        "name='nomatch%' (worst: scans all)": {"name": "nomatch%"},
        f"parent={parents[1].split('/')[-1]}": {"parent": parents[1]},
        "no filter, sort=name": {"sort": "name"},
    }
    with get_runner() as runner:
        runner.list(limit=1)  # open the store, load the plugins
        for label, kw in cases.items():
            page = runner.list(limit=50, **kw)
            samples = time_call(functools.partial(runner.list, limit=50, **kw), repeat)
            report(
                f"Runner.list {label}, limit 50",
                f"{median_ms(samples):.1f} ms",
                "<= 50 ms",
                f"{len(page)} rows over {runs:,} runs",
            )
        bench_cursor(runner, repeat)


def bench_cursor(runner: Any, repeat: int) -> None:
    """A next page from a cursor, and a page half-way down the store."""
    first = runner.list(scheduler="local", limit=50)
    samples = time_call(
        lambda: runner.list(scheduler="local", limit=50, cursor=first.next_cursor), repeat
    )
    report(
        "Runner.list scheduler=local, page 2 by cursor", f"{median_ms(samples):.1f} ms", "<= 50 ms"
    )
    deep = runner.list(scheduler="local", limit=25_000)
    samples = time_call(
        lambda: runner.list(scheduler="local", limit=50, cursor=deep.next_cursor), repeat
    )
    report(
        "Runner.list scheduler=local, page at row 25,000",
        f"{median_ms(samples):.1f} ms",
        "<= 50 ms",
    )


def bench_cli(repeat: int) -> None:
    """Wall time of the CLI: the same listing, and an empty store (start-up and imports)."""
    cli = [str(VENV_BIN / "torchrun-core"), "list"]
    # docker's runs here have all ended: the page comes from the store alone.
    ended = time_command([*cli, "--scheduler", "docker", "--limit", "50"], repeat)
    report(
        "CLI list --scheduler docker --limit 50", f"{median_ms(ended):.0f} ms", "<= 50 ms",
        "no live run on the page: the store alone answers",
    )  # fmt: skip
    samples = time_command([*cli, "--scheduler", "local", "--limit", "50"], repeat)
    report(
        "CLI list --scheduler local --limit 50", f"{median_ms(samples):.0f} ms", "<= 50 ms",
        "live runs on the page: the local scheduler is asked (imports the Runner)",
    )  # fmt: skip
    with isolated_state_dir():
        empty = time_command([*cli, "--limit", "50"], repeat)
    report(
        "CLI list on an empty store (start-up floor)",
        f"{median_ms(empty):.0f} ms",
        "-",
        f"so the 100k store adds {median_ms(samples) - median_ms(empty):.0f} ms",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with isolated_state_dir():
        start = time.perf_counter()
        parents = fill_store(RunStore(), args.runs)
        report(
            f"fill the store with {args.runs:,} runs", f"{time.perf_counter() - start:.1f} s", "-"
        )
        bench_api(args.runs, args.repeat, parents)
        bench_cli(max(3, args.repeat // 3))


if __name__ == "__main__":
    main()
