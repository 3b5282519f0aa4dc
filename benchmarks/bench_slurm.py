"""Slurm figures: 1000-replica dry run, submit latency, status of 100 jobs, sbatch to RUNNING.

Usage: python benchmarks/bench_slurm.py

The cluster is the one of ``scripts/engines/slurm.sh`` (its ``status`` prints
where to reach it over SSH). Without it only the dry-run figure is printed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import isolated_state_dir, median_ms, report, time_call

from torchrun_core import AppDef, Role, get_runner

ENGINE_SH = Path(__file__).parents[1] / "scripts" / "engines" / "slurm.sh"


def _app(replicas: int = 1, script: str = "true") -> AppDef:
    role = Role(
        name="w", image="", entrypoint="/bin/sh", args=["-c", script], num_replicas=replicas
    )
    return AppDef(name="bench", roles=[role])


def bench_dryrun(repeat: int = 30) -> None:
    """Runner.dryrun of 1 role x 1000 replicas on a remote host: no command runs."""
    params = {"slurm": {"host": "login.invalid", "user": "u", "port": 22}}
    app = _app(1000, "echo ${replica_id}")
    with isolated_state_dir(), get_runner(scheduler_params=params) as runner:
        runner.dryrun(app, "slurm")  # warm: plugin discovery, imports
        samples = time_call(lambda: runner.dryrun(app, "slurm"), repeat)
        assert "paramiko" not in sys.modules
    report(
        "slurm dryrun, 1 role x 1000 replicas",
        f"{median_ms(samples):.1f} ms",
        "<= 20 ms",
        "no remote command, paramiko not imported; TorchX 0.7.0 runs sinfo: ~150-210 ms",
    )


def _connection() -> dict[str, Any] | None:
    done = subprocess.run(["bash", str(ENGINE_SH), "status"], capture_output=True, text=True)
    if done.returncode != 0:
        print("slurm figures skipped: no cluster (bash scripts/engines/slurm.sh start)")
        return None
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    key = Path(env["TORCHRUN_CORE_TEST_SLURM_HOST_KEY"]).read_text().split()
    known = Path(tempfile.mkdtemp()) / "known_hosts"
    host, port = env["TORCHRUN_CORE_TEST_SLURM_HOST"], env["TORCHRUN_CORE_TEST_SLURM_PORT"]
    known.write_text(f"[{host}]:{port} {key[0]} {key[1]}\n")
    return {
        "host": host,
        "port": int(port),
        "user": env["TORCHRUN_CORE_TEST_SLURM_USER"],
        "identity_file": env["TORCHRUN_CORE_TEST_SLURM_KEY"],
        "known_hosts": str(known),
    }


def bench_cluster(conn: dict[str, Any], repeat: int = 10) -> None:
    """Submit latency, sbatch-to-RUNNING and status of 100 jobs, over one reused connection."""
    from torchrun_core.schedulers.slurm.scheduler import SlurmScheduler

    with isolated_state_dir():
        sched = SlurmScheduler("bench", **conn)
        try:
            sched.submit(_app())  # warm: connect
            submit = time_call(lambda: sched.submit(_app()), repeat)
            to_running = []
            for _ in range(repeat):
                start = time.perf_counter()
                app_id = sched.submit(_app(script="sleep 30"))
                while sched.describe(app_id).state.value in ("SUBMITTED", "PENDING"):  # type: ignore[union-attr]
                    pass
                to_running.append(time.perf_counter() - start)
                sched.cancel(app_id)
            ids = [sched.submit(_app()) for _ in range(100 - repeat - 1)]
            ids = [a.app_id for a in sched.list()][-100:]
            before = sched.transport().commands_run
            status = time_call(lambda: sched.apps(ids), repeat)
            trips = (sched.transport().commands_run - before) / repeat
            found = len(sched.apps(ids))
        finally:
            sched.close()
    report("slurm submit (reused SSH connection)", f"{median_ms(submit):.0f} ms", "report")
    report(
        "slurm sbatch to RUNNING, trivial job",
        f"{median_ms(to_running):.0f} ms",
        "report",
        "submit + status polls over SSH",
    )
    report(
        f"slurm status of {found} jobs",
        f"{median_ms(status):.0f} ms",
        "1 round trip",
        f"{trips:g} SSH exec(s) per call",
    )


def main() -> None:
    bench_dryrun()
    conn = _connection()
    if conn is not None:
        bench_cluster(conn)


if __name__ == "__main__":
    main()
