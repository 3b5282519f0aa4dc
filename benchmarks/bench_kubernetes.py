"""Kubernetes scheduler figures: 1000-replica dry run, status of 16 replicas, submit-to-running.

Usage: python benchmarks/bench_kubernetes.py [--kubeconfig PATH] [--image IMAGE]

The cluster is ``--kubeconfig``, else ``KUBECONFIG``, else the loopback test
cluster of ``scripts/engines/k8s.sh`` (its kubelet runs pods on the test
dockerd, where ``scripts/engines/docker-images.sh`` builds the image).
Without a cluster only the dry-run figure is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import isolated_state_dir, median_ms, report, time_call

from torchrun_core import AppDef, Role, get_runner

TEST_KUBECONFIG = "/tmp/torchrun-core-k8s/kubeconfig"
BUSYBOX = "torchrun-core/busybox:latest"
CFG = {"image_pull_policy": "Never", "grace_period": 1}


def bench_dryrun(repeat: int = 30) -> None:
    """Runner.dryrun of 1 role x 1000 replicas (no cluster needed)."""
    role = Role(name="w", image=BUSYBOX, entrypoint="echo", args=["${replica_id}"],
                env={"A": "${app_id}"}, num_replicas=1000)  # fmt: skip
    app = AppDef(name="wide", roles=[role])
    with isolated_state_dir(), get_runner() as runner:
        runner.dryrun(app, "kubernetes")  # warm: plugin discovery, imports
        samples = time_call(lambda: runner.dryrun(app, "kubernetes"), repeat)
    report(
        "kubernetes dryrun, 1 role x 1000 replicas",
        f"{median_ms(samples):.1f} ms",
        "<= 60 ms",
        "TorchX 0.7.0 (Volcano): 1.8-2.5 s",
    )


def _sleeper(replicas: int, image: str) -> AppDef:
    role = Role(name="w", image=image, entrypoint="sleep", args=["60"], num_replicas=replicas)
    return AppDef(name="sleeper", roles=[role])


def bench_submit_to_running(image: str, replicas: int, repeat: int = 5) -> None:
    """From Runner.run() being called to the app observed RUNNING (every pod running)."""
    samples = []
    with isolated_state_dir(), get_runner("bench") as runner:
        app = _sleeper(replicas, image)
        for _ in range(repeat):
            start = time.perf_counter()
            handle = runner.run(app, "kubernetes", CFG)
            runner.wait(handle, timeout=120, state="RUNNING")  # type: ignore[arg-type]
            samples.append(time.perf_counter() - start)
            runner.cancel(handle)
    report(
        f"kubernetes submit to RUNNING, {replicas} replica(s)",
        f"{median_ms(samples):.0f} ms",
        "report",
        f"min {min(samples) * 1000:.0f} ms over {repeat}",
    )


def bench_status(image: str, repeat: int = 30) -> None:
    """Status of a 16-replica app: API calls counted at the HTTP layer, and latency."""
    with isolated_state_dir(), get_runner("bench") as runner:
        handle = runner.run(_sleeper(16, image), "kubernetes", CFG)
        try:
            runner.wait(handle, timeout=120, state="RUNNING")  # type: ignore[arg-type]
            sched: Any = runner.scheduler("kubernetes", "bench")
            rest = sched.client(sched.target(handle.app_id)).rest_client
            calls = _count_requests(rest, lambda: sched.describe(handle.app_id))
            direct = time_call(lambda: sched.describe(handle.app_id), repeat)
            via_runner = time_call(lambda: runner.status(handle), repeat)
        finally:
            runner.cancel(handle)
    report("status of a 16-replica app (scheduler.describe)", f"{median_ms(direct):.1f} ms",
           "a fixed number of calls", f"{calls} API call(s)")  # fmt: skip
    report("status of a 16-replica app (Runner.status)", f"{median_ms(via_runner):.1f} ms",
           "report")  # fmt: skip


def _count_requests(rest: Any, fn: Any) -> int:
    """How many HTTP requests ``fn`` makes through the SDK's REST client ``rest``."""
    count = 0
    original = rest.request

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        return original(*args, **kwargs)

    rest.request = counting
    try:
        fn()
    finally:
        rest.request = original
    return count


def _cluster(kubeconfig: str | None) -> str | None:
    """The kubeconfig to use, when its cluster answers."""
    path = kubeconfig or os.environ.get("KUBECONFIG") or TEST_KUBECONFIG
    try:
        from kubernetes import config
        from kubernetes.client import CoreV1Api

        with config.new_client_from_config(config_file=path) as api:
            CoreV1Api(api).list_node(_request_timeout=10)
    except Exception as err:
        print(f"kubernetes figures skipped: no cluster at {path}: {err}", flush=True)
        return None
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", help="default: KUBECONFIG, else the test cluster's")
    parser.add_argument("--image", default=BUSYBOX, help="a small image the kubelet has")
    args = parser.parse_args()
    bench_dryrun()
    path = _cluster(args.kubeconfig)
    if path is None:
        return
    os.environ["KUBECONFIG"] = path
    bench_submit_to_running(args.image, 1)
    bench_submit_to_running(args.image, 4)
    bench_status(args.image)


if __name__ == "__main__":
    main()
