"""Observed status of a submitted app, per role and replica."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from torchrun_core.errors import AppCancelledError, AppFailedError
from torchrun_core.specs.state import AppState

# How a replica ends when its scheduler stops it: SIGTERM's and SIGKILL's exit codes.
STOP_EXIT_CODES = frozenset({128 + 15, 128 + 9})
# At most this many replicas are named in one line; the rest are counted.
_NAMED = 3


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

    def failure_summary(self) -> str:
        """What ended a FAILED app, in one line; "" for other apps, or when no replica tells more.

        The replicas that failed by themselves come first, with their exit
        codes (``sh/1 exited with 3``; one without a code just ``failed``),
        then those stopped because of them (``sh/0 was stopped after sh/1
        failed``): the CANCELLED ones, and, next to a replica that failed with
        another code, those that ended by SIGTERM or SIGKILL or with no code.
        """
        if self.state is not AppState.FAILED:
            return ""
        causes, stopped = _causes_and_stopped(self)
        if not stopped and all(r.exit_code is None and not r.message for r in causes):
            return ""  # nothing to say beyond the app's own state and message
        parts = [_ended(r) for r in causes[:_NAMED]]
        if len(causes) > _NAMED:
            parts.append(f"{len(causes) - _NAMED} more failed")
        if stopped:
            names = ", ".join(_name(r) for r in stopped[:_NAMED])
            if len(stopped) > _NAMED:
                names += f" and {len(stopped) - _NAMED} more"
            verb = "was" if len(stopped) == 1 else "were"
            parts.append(f"{names} {verb} {stopped_after(causes[0])}")
        return "; ".join(parts)

    def raise_for_status(self) -> AppStatus:
        """Return self, or raise when the app ended FAILED or CANCELLED.

        Raises:
            AppFailedError: naming the first failed replica and its exit code.
            AppCancelledError: when the app was cancelled.
        """
        if self.state is AppState.FAILED:
            summary = self.failure_summary()
            where = f": {summary}" if summary else ""
            detail = f" ({self.message})" if self.message else ""
            raise AppFailedError(
                f"app {self.handle or '?'} failed{where}{detail}",
                handle=self.handle,
                hint=f"see the logs: torchrun-core log {self.handle}" if self.handle else None,
            )
        if self.state is AppState.CANCELLED:
            raise AppCancelledError(f"app {self.handle or '?'} was cancelled", handle=self.handle)
        return self


def _name(replica: ReplicaStatus) -> str:
    return f"{replica.role}/{replica.id}"


def _ended(replica: ReplicaStatus) -> str:
    if replica.exit_code is None:  # killed before it could leave one, or a backend that has none
        return f"{_name(replica)} failed" + (f" ({replica.message})" if replica.message else "")
    return f"{_name(replica)} exited with {replica.exit_code}"


def stopped_after(cause: ReplicaStatus) -> str:
    """The message of a replica stopped because ``cause`` failed: ``stopped after sh/1 failed``."""
    return f"stopped after {_name(cause)} failed"


def mark_stopped_siblings(status: AppStatus) -> AppStatus:
    """``status`` with the replicas that were stopped because another failed reading CANCELLED.

    For schedulers that stop a failed replica's siblings and then see them
    end like failures: by SIGTERM or SIGKILL (exit code 143 or 137), or with
    no code at all. In a FAILED app where some replica failed with any other
    code (the cause), each of those reads CANCELLED, with the message
    ``stopped after <cause> failed``; its exit code is kept. Changes
    ``status`` in place and returns it.
    """
    if status.state is not AppState.FAILED:
        return status
    causes, stopped = _causes_and_stopped(status)
    for replica in stopped:
        if causes and replica.state is AppState.FAILED:
            replica.state = AppState.CANCELLED
            replica.message = stopped_after(causes[0])
    return status


def _causes_and_stopped(status: AppStatus) -> tuple[list[ReplicaStatus], list[ReplicaStatus]]:
    """The replicas of a FAILED app that failed by themselves, and those stopped because of them.

    A replica that ended like a stopped one (SIGTERM, SIGKILL, no code) is a
    cause only when no replica failed any other way.
    """
    replicas = [r for rs in status.roles for r in rs.replicas]
    failed = [r for r in replicas if r.state is AppState.FAILED]
    causes = [r for r in failed if not _stopped_like(r)] or failed
    named = {id(r) for r in causes}
    stopped = [
        r
        for r in replicas
        if r.state is AppState.CANCELLED or (r.state is AppState.FAILED and id(r) not in named)
    ]
    return causes, stopped


def _stopped_like(replica: ReplicaStatus) -> bool:
    return replica.exit_code is None or replica.exit_code in STOP_EXIT_CODES
