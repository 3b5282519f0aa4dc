"""The test clusters of ``scripts/engines/slurm.sh``, and faults to inject into them.

A :class:`SlurmCluster` is one running profile (``site`` or ``stock``): its
SSH connection params, its ``slurm.conf``, and the script's fault commands:
stop and start slurmctld (its state is kept, so running jobs survive), drop
or stop the sshd, and list the test user's processes on the nodes (which are
this host) to check that nothing of a job is left running.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENGINE_SH = Path(__file__).parents[3] / "scripts" / "engines" / "slurm.sh"
# The variable prefix that scripts/test.sh exports each profile's values under.
ENV_PREFIXES = {"site": "TORCHRUN_CORE_TEST_SLURM_", "stock": "TORCHRUN_CORE_TEST_SLURM_STOCK_"}
# Where slurm.sh reads each profile's directory and first port, when not its default.
_DIR_VARS = {"site": "TORCHRUN_CORE_SLURM_DIR", "stock": "TORCHRUN_CORE_SLURM_STOCK_DIR"}
_PORT_VARS = {"site": "TORCHRUN_CORE_SLURM_PORT", "stock": "TORCHRUN_CORE_SLURM_STOCK_PORT"}
_SSH_PORT_OFFSET = 3  # slurm.sh: the sshd listens on the profile's first port + 3


@dataclass(frozen=True)
class NodeProcess:
    """One process of the test user on a node, as ``slurm.sh ps`` lists it."""

    pid: int
    ppid: int
    cluster: str  # SLURM_CLUSTER_NAME in its environment, "-" for none
    job_id: str  # SLURM_JOB_ID in its environment, "-" for none
    cwd: str
    args: str


@dataclass(frozen=True)
class SlurmCluster:
    """One test cluster: what the tests connect to, and its fault commands."""

    name: str  # the profile: "site" or "stock"
    env: dict[str, str]  # its exported values by short name: HOST, PORT, USER, KEY, ...
    conn: dict[str, Any] = field(default_factory=dict)  # SlurmScheduler's connection params

    @property
    def conf(self) -> Path:
        """Its slurm.conf, for Slurm commands run on this host."""
        return Path(self.env["CONF"])

    @property
    def cluster_name(self) -> str:
        """Its ``ClusterName``, as jobs see it in ``SLURM_CLUSTER_NAME``."""
        for line in self.conf.read_text().splitlines():
            if line.startswith("ClusterName="):
                return line.partition("=")[2].strip()
        raise AssertionError(f"no ClusterName in {self.conf}")

    def engine(self, command: str, timeout: float = 120) -> str:
        """Run ``slurm.sh <command>`` for this profile; its stdout."""
        # The directory and ports from what the cluster exported, so that the script
        # finds the very cluster the tests use, whatever its own defaults.
        env = {
            **os.environ,
            "TORCHRUN_CORE_SLURM_PROFILE": self.name,
            _DIR_VARS[self.name]: str(self.conf.parent),
            _PORT_VARS[self.name]: str(int(self.env["PORT"]) - _SSH_PORT_OFFSET),
            "TORCHRUN_CORE_SLURM_USER": self.env["USER"],
        }
        done = subprocess.run(
            ["bash", str(ENGINE_SH), command],
            env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        assert done.returncode == 0, f"slurm.sh {command} ({self.name}): {done.stderr.strip()}"
        return done.stdout

    def stop_controller(self) -> None:
        """Stop slurmctld (it saves its state; slurmd and running jobs go on)."""
        self.engine("stop-ctld")

    def start_controller(self) -> None:
        """Start slurmctld again from its saved state; returns once it answers."""
        self.engine("start-ctld")

    @contextlib.contextmanager
    def controller_down(self) -> Iterator[None]:
        """slurmctld stopped for the block, started again after it, even on an error."""
        self.stop_controller()
        try:
            yield
        finally:
            self.start_controller()

    def restart_sshd(self) -> None:
        """Drop every SSH connection (the sshd and its sessions die), then listen again."""
        self.engine("restart-sshd")

    def stop_sshd(self) -> None:
        """Drop every SSH connection; new ones are refused until :meth:`start_sshd`."""
        self.engine("stop-sshd")

    def start_sshd(self) -> None:
        self.engine("start-sshd")

    def processes(self) -> list[NodeProcess]:
        """Every process of the test user on the nodes, jobs' and others (SSH sessions)."""
        found = []
        for line in self.engine("ps").splitlines():
            pid, ppid, cluster, job_id, cwd, args = line.split("\t", 5)
            found.append(NodeProcess(int(pid), int(ppid), cluster, job_id, cwd, args))
        return found

    def job_processes(self, job_id: str, job_dir: str | None = None) -> list[NodeProcess]:
        """The processes of job ``job_id`` of this cluster: by their environment, or (for
        one that dropped it) by a working directory inside ``job_dir``."""
        name = self.cluster_name
        return [
            p
            for p in self.processes()
            if (p.cluster == name and p.job_id == job_id)
            or (job_dir and (p.cwd == job_dir or p.cwd.startswith(job_dir.rstrip("/") + "/")))
        ]

    def wait_no_job_processes(
        self, job_id: str, job_dir: str | None = None, timeout: float = 60
    ) -> list[NodeProcess]:
        """Poll until job ``job_id`` has no process left, at most ``timeout`` s; the
        processes still there at the end (empty when none is left)."""
        deadline = time.monotonic() + timeout
        while (left := self.job_processes(job_id, job_dir)) and time.monotonic() < deadline:
            time.sleep(0.5)
        return left
