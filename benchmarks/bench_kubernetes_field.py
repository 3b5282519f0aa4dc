"""Kubernetes field figures: failure to FAILED, and wait after an API server outage.

Usage: python benchmarks/bench_kubernetes_field.py [--repeat N] [--kubeconfig PATH]

Against ``--kubeconfig``, else ``KUBECONFIG``, else the loopback test cluster of
``scripts/engines/k8s.sh`` (whose ``stop-apiserver``/``start-apiserver`` make
the outage; without that cluster the outage figure is skipped):

- seconds from a replica's failure (it prints the time, then exits 3) to
  ``wait`` returning FAILED, and to ``run --wait`` exiting 1, its sibling
  (which would run 5 minutes) stopped on the way. The replica's clock is
  this machine's on the loopback cluster; elsewhere their skew adds in;
- seconds from the API server answering again after a 20 s outage to
  ``wait`` returning the app's final state.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import engine_command, isolated_state_dir, report_seconds
from bench_kubernetes import TEST_KUBECONFIG, _cluster

from torchrun_core import AppDef, Role, get_runner
from torchrun_core.runner import Runner
from torchrun_core.specs.state import AppState

ENGINE_SH = Path(__file__).resolve().parent.parent / "scripts" / "engines" / "k8s.sh"
PYTHON_IMAGE = "torchrun-core/python:3.11"  # busybox's date has no sub-second time
BUSYBOX = "torchrun-core/busybox:latest"
CFG = {"image_pull_policy": "Never"}  # the pods' own 30 s grace period: not waited for
# Replica 1 prints when it fails; replica 0 would run 5 minutes.
FAIL_ONE = (
    "import os, sys, time\n"
    "if os.environ['TORCHRUN_CORE_REPLICA_ID'] == '1':\n"
    "    time.sleep(2); print('failed_at', time.time(), flush=True); sys.exit(3)\n"
    "time.sleep(300)\n"
)


def _failed_at(lines: list[str]) -> float:
    return next(float(line.split()[-1]) for line in lines if "failed_at" in line)


def bench_failure_wait(runner: Runner, repeat: int) -> None:
    role = Role(name="w", image=PYTHON_IMAGE, entrypoint="python3", args=["-c", FAIL_ONE],
                num_replicas=2)  # fmt: skip
    samples = []
    for _ in range(repeat):
        handle = runner.run(AppDef(name="fail", roles=[role]), "kubernetes", CFG)
        status = runner.wait(handle, timeout=300)
        ended = time.time()
        assert status.state is AppState.FAILED, status
        samples.append(ended - _failed_at(list(runner.log_lines(handle, "w", 1))))
        runner.delete(handle, grace_period=0)
    report_seconds(
        "kubernetes, a replica's failure to wait returning FAILED",
        samples,
        f"median of {repeat}; its sibling's Job deleted on the way",
    )


def bench_failure_run_wait(repeat: int) -> None:
    argv = [sys.executable, "-m", "torchrun_core", "run", "--wait", "-s", "kubernetes",
            "--cfg", "image_pull_policy=Never", "utils.python", "--image", PYTHON_IMAGE,
            "--num_replicas", "2", "--interpreter", "python3", "--c", FAIL_ONE]  # fmt: skip
    samples = []
    for _ in range(repeat):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        ended = time.time()
        assert proc.returncode == 1, proc.stderr
        samples.append(ended - _failed_at(proc.stdout.splitlines()))
        handle = proc.stdout.splitlines()[-1]
        subprocess.run([sys.executable, "-m", "torchrun_core", "delete", "--grace-period", "0",
                        handle], capture_output=True, check=False)  # fmt: skip
    report_seconds(
        "kubernetes, a replica's failure to run --wait exiting 1",
        samples,
        f"median of {repeat}; before: it followed the sibling until its pod ended",
    )


def _job_failed_at(sched: Any, app_id: str, out: dict[str, Any]) -> None:
    """Note when the cluster itself has the app's Job Failed (asked every 0.2 s)."""
    while "job_failed" not in out:
        try:
            jobs, _ = sched._objects(app_id)
        except Exception:  # the server is away
            jobs = []
        conditions = [c for j in jobs for c in j.get("status", {}).get("conditions") or []]
        if any(c.get("type") == "Failed" and c.get("status") == "True" for c in conditions):
            out["job_failed"] = time.monotonic()
        time.sleep(0.2)


def bench_outage(runner: Runner, repeat: int) -> None:
    role = Role(name="w", image=BUSYBOX, entrypoint="sh", args=["-c", "sleep 10; exit 3"])
    samples, cluster = [], []
    for _ in range(repeat):
        handle = runner.run(AppDef(name="outage", roles=[role]), "kubernetes", CFG)
        runner.wait(handle, timeout=120, state=AppState.RUNNING)
        done: dict[str, Any] = {}

        def wait(h: Any = handle, out: dict[str, Any] = done) -> None:
            out["status"] = runner.wait(h, timeout=300)
            out["at"] = time.monotonic()

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(1)
        engine_command(ENGINE_SH, "stop-apiserver")
        time.sleep(20)
        engine_command(ENGINE_SH, "start-apiserver")  # returns once /readyz answers
        back = time.monotonic()
        # Another scheduler: its own connection, not the one wait uses.
        probe = threading.Thread(target=_job_failed_at, daemon=True,
                                 args=(type(runner.scheduler("kubernetes"))("probe"),
                                       handle.app_id, done))  # fmt: skip
        probe.start()
        waiter.join(300)
        probe.join(60)
        assert done["status"].state is AppState.FAILED, done
        runner.delete(handle)
        samples.append(done["at"] - back)
        cluster.append(done["job_failed"] - back)
    report_seconds(
        "kubernetes, wait returning after the API server is back (20 s outage)",
        samples,
        f"median of {repeat}; the cluster itself failed the Job "
        f"{statistics.median(cluster):.1f} s after; wait asks again every 10 s at most",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG") or TEST_KUBECONFIG)
    args = parser.parse_args()
    # A kubeconfig left by an earlier cluster is not a cluster: ask it first.
    if not Path(args.kubeconfig).exists() or _cluster(args.kubeconfig) is None:
        print(f"kubernetes field figures skipped: no cluster answers at {args.kubeconfig}")
        return
    os.environ["KUBECONFIG"] = args.kubeconfig
    with isolated_state_dir(), get_runner("bench") as runner:
        bench_failure_wait(runner, args.repeat)
        bench_failure_run_wait(args.repeat)
        if args.kubeconfig == TEST_KUBECONFIG:  # only a cluster of ours is restarted
            bench_outage(runner, args.repeat)


if __name__ == "__main__":
    main()
