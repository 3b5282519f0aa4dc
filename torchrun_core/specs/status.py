"""Observed status of a submitted app, per role and replica."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from torchrun_core.errors import AppCancelledError, AppFailedError
from torchrun_core.specs.state import AppState


class ReplicaStatus(BaseModel):
    """One replica (one attempt at a time) of one role."""

    model_config = ConfigDict(extra="forbid")

    id: int
    role: str
    state: AppState
    exit_code: int | None = None
    hostname: str = ""
    attempt: int = Field(default=0, description="0 for the first run, +1 per retry")
    started_at: float | None = Field(default=None, description="unix time")
    finished_at: float | None = Field(default=None, description="unix time")
    message: str = ""


class RoleStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str
    replicas: list[ReplicaStatus] = Field(default_factory=list)


class AppStatus(BaseModel):
    """What a scheduler reports about one app."""

    model_config = ConfigDict(extra="forbid")

    state: AppState
    handle: str = ""
    num_restarts: int = 0
    message: str = ""
    roles: list[RoleStatus] = Field(default_factory=list)
    created_at: float | None = None
    finished_at: float | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal

    def replica(self, role: str, replica_id: int) -> ReplicaStatus:
        for role_status in self.roles:
            if role_status.role == role:
                for replica in role_status.replicas:
                    if replica.id == replica_id:
                        return replica
        raise KeyError(f"no replica {role}/{replica_id}")

    def raise_for_status(self) -> AppStatus:
        """Return self, or raise when the app ended FAILED or CANCELLED.

        Raises:
            AppFailedError: naming the first failed replica and its exit code.
            AppCancelledError: when the app was cancelled.
        """
        if self.state is AppState.FAILED:
            failed = [r for rs in self.roles for r in rs.replicas if r.state is AppState.FAILED]
            where = ""
            if failed:
                r = failed[0]
                where = f": {r.role}/{r.id} exited with {r.exit_code}"
            detail = f" ({self.message})" if self.message else ""
            raise AppFailedError(
                f"app {self.handle or '?'} failed{where}{detail}",
                handle=self.handle,
                hint=f"see the logs: torchrun-core log {self.handle}" if self.handle else None,
            )
        if self.state is AppState.CANCELLED:
            raise AppCancelledError(f"app {self.handle or '?'} was cancelled", handle=self.handle)
        return self
