"""Docker scheduler figures: 1000-replica dry run, submit-to-running, labelled status.

Usage: python benchmarks/bench_docker.py [--host unix:///...sock] [--image IMAGE]

The daemon is ``--host``, else ``DOCKER_HOST``, else the private test daemon
of ``scripts/engines/dockerd.sh``; the image must be on it
(``scripts/engines/docker-images.sh`` builds ``torchrun-core/busybox``).
Without a daemon only the dry-run figure is printed.
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

TEST_DAEMON = "unix:///tmp/torchrun-core-dockerd/docker.sock"
BUSYBOX = "torchrun-core/busybox:latest"


def bench_dryrun(repeat: int = 30) -> None:
    """Runner.dryrun of 1 role x 1000 replicas (no daemon needed)."""
    app = AppDef(
        name="wide",
        roles=[
            Role(
                name="w",
                image=BUSYBOX,
                entrypoint="echo",
                args=["${replica_id}"],
                env={"A": "${app_id}"},
                num_replicas=1000,
            )
        ],
    )
    with isolated_state_dir(), get_runner() as runner:
        runner.dryrun(app, "docker")  # warm: plugin discovery, imports
        samples = time_call(lambda: runner.dryrun(app, "docker"), repeat)
    report(
        "docker dryrun, 1 role x 1000 replicas",
        f"{median_ms(samples):.1f} ms",
        "<= 20 ms",
        "TorchX 0.7.0 local_docker: ~110 ms",
    )


def _sleeper(replicas: int, image: str) -> AppDef:
    role = Role(name="w", image=image, entrypoint="sleep", args=["60"], num_replicas=replicas)
    return AppDef(name="sleeper", roles=[role])


def bench_submit_to_running(image: str, replicas: int, repeat: int = 7) -> None:
    """From Runner.run() being called to the app observed RUNNING (every replica started)."""
    samples = []
    with isolated_state_dir(), get_runner("bench") as runner:
        app = _sleeper(replicas, image)
        runner.cancel(runner.run(app, "docker"))  # warm: connection, image check
        for _ in range(repeat):
            start = time.perf_counter()
            handle = runner.run(app, "docker")
            runner.wait(handle, timeout=60, state="RUNNING")  # type: ignore[arg-type]
            samples.append(time.perf_counter() - start)
            runner.cancel(handle)
    report(
        f"submit to RUNNING, {replicas} busybox replica(s)",
        f"{median_ms(samples):.0f} ms",
        "report",
        f"min {min(samples) * 1000:.0f} ms over {repeat}",
    )


def bench_status(image: str, repeat: int = 50) -> None:
    """Status of an 8-replica app: one labelled container list, counted at the HTTP layer."""
    with isolated_state_dir(), get_runner("bench") as runner:
        handle = runner.run(_sleeper(8, image), "docker")
        try:
            runner.wait(handle, timeout=60, state="RUNNING")  # type: ignore[arg-type]
            sched: Any = runner.scheduler("docker", "bench")
            client, _ = sched.client()
            calls = _count_requests(client, lambda: sched.describe(handle.app_id))
            direct = time_call(lambda: sched.describe(handle.app_id), repeat)
            via_runner = time_call(lambda: runner.status(handle), repeat)
        finally:
            runner.cancel(handle)
    report(
        "status of an 8-replica app (scheduler.describe)",
        f"{median_ms(direct):.1f} ms",
        "1 list call",
        f"{calls} API call(s)",
    )
    report(
        "status of an 8-replica app (Runner.status)", f"{median_ms(via_runner):.1f} ms", "report"
    )


def _count_requests(client: Any, fn: Any) -> int:
    """How many HTTP requests ``fn`` makes through ``client``."""
    count = 0
    original = client.send

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        return original(*args, **kwargs)

    client.send = counting
    try:
        fn()
    finally:
        client.send = original
    return count


def _daemon(host: str | None, image: str) -> str | None:
    """The daemon to use, when it answers and has ``image``."""
    try:
        from docker import APIClient
    except ImportError:
        print("docker figures skipped: the docker SDK is not installed", flush=True)
        return None
    address = host or os.environ.get("DOCKER_HOST") or TEST_DAEMON
    try:
        client = APIClient(base_url=address, version="auto", timeout=10)
        client.inspect_image(image)
        client.close()
    except Exception as err:
        print(f"docker figures skipped: no daemon with {image} at {address}: {err}", flush=True)
        return None
    return address


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="the docker daemon (default: DOCKER_HOST, the test daemon)")
    parser.add_argument("--image", default=BUSYBOX, help="a small image on that daemon")
    args = parser.parse_args()
    bench_dryrun()
    address = _daemon(args.host, args.image)
    if address is None:
        return
    os.environ["DOCKER_HOST"] = address
    bench_submit_to_running(args.image, 1)
    bench_submit_to_running(args.image, 8)
    bench_status(args.image)


if __name__ == "__main__":
    main()
