"""Plain-text rendering of an AppStatus, shared by status, wait and describe."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrun_core.cli.output import format_table, format_time

if TYPE_CHECKING:
    from torchrun_core.specs.status import AppStatus


def format_status(status: AppStatus, handle: str) -> str:
    """The app's state and times, then one row per replica."""
    lines = [f"handle:   {status.handle or handle}", f"state:    {status.state.value}"]
    if status.message:
        lines.append(f"message:  {status.message}")
    if status.num_restarts:
        lines.append(f"restarts: {status.num_restarts}")
    lines.append(f"created:  {format_time(status.created_at)}")
    if status.finished_at is not None:
        lines.append(f"finished: {format_time(status.finished_at)}")
    rows = [
        (
            f"{r.role}/{r.id}",
            r.state.value,
            r.exit_code,
            r.attempt,
            r.hostname or None,
            format_time(r.started_at),
            format_time(r.finished_at),
            r.message or None,
        )
        for role in status.roles
        for r in role.replicas
    ]
    if rows:
        headers = ("REPLICA", "STATE", "EXIT", "ATTEMPT", "HOST", "STARTED", "FINISHED", "MESSAGE")
        lines += ["", format_table(headers, rows)]
    return "\n".join(lines) + "\n"
