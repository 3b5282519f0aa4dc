"""The supervisor's records: each replica across its attempts, each role's retries.

Standard library only: used inside the forked supervisor.
"""

from __future__ import annotations

import subprocess
from typing import Any

from torchrun_core.schedulers.local.logs import AttemptLogWriter
from torchrun_core.schedulers.local.plan import ReplicaPlan, RolePlan


class Replica:
    """The live state of one replica across its attempts."""

    def __init__(self, plan: ReplicaPlan, role: RoleRun) -> None:
        self.plan = plan
        self.role = role
        self.attempt = 0
        self.state = "PENDING"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid_start: int | None = None
        self.exit_code: int | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.message = ""
        self.log_error: str | None = None  # why this attempt's log has gaps
        self.attempt_done = False
        self.logs: AttemptLogWriter | None = None
        self.pipes: list[int] = []

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.plan.replica_id,
            "state": self.state,
            "attempt": self.attempt,
            "attempt_done": self.attempt_done,
            "exit_code": self.exit_code,
            "pid": self.proc.pid if self.proc else None,
            "pid_start": self.pid_start,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "message": "; ".join(m for m in (self.message, self.log_error) if m),
            "log_error": self.log_error,
        }


class RoleRun:
    """One role's replicas and its retry budget."""

    def __init__(self, plan: RolePlan) -> None:
        self.plan = plan
        self.retries_used = 0
        self.replicas = [Replica(r, self) for r in plan.replicas]
