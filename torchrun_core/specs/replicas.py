"""The replicas of an app, by role: from its spec, or from a status its scheduler reported.

``torchrun-core log`` and the dashboard's log views address output this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchrun_core.specs.app import AppDef
    from torchrun_core.specs.status import AppStatus


@dataclass(frozen=True)
class ReplicaRef:
    """One replica of one role."""

    role: str
    replica: int

    def __str__(self) -> str:
        return f"{self.role}/{self.replica}"


def replicas_of(app: AppDef, role: str | None = None) -> list[ReplicaRef]:
    """Every replica of ``app`` (or of its role ``role``), in role order."""
    roles = [app.role(role)] if role is not None else app.roles
    return [ReplicaRef(r.name, k) for r in roles for k in range(r.num_replicas)]


def replicas_of_status(status: AppStatus, role: str | None = None) -> list[ReplicaRef]:
    """The replicas an AppStatus reports (of role ``role`` only, if given)."""
    return [
        ReplicaRef(rs.role, r.id)
        for rs in status.roles
        if role is None or rs.role == role
        for r in rs.replicas
    ]


__all__ = ["ReplicaRef", "replicas_of", "replicas_of_status"]
