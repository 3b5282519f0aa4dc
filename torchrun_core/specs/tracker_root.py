"""Where a job's ``file`` tracker writes, as its scheduler places it.

:meth:`torchrun_core.scheduler.Scheduler.tracker_root` answers with a
:class:`TrackerRoot`; both names are also importable from
``torchrun_core.scheduler``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from torchrun_core.specs.app import AppDef


@dataclass(frozen=True)
class TrackerRoot:
    """Where a job's ``file`` tracker writes, as its scheduler places it (see
    :meth:`Scheduler.tracker_root`).

    Attributes:
        path: the root the job is given: a path where the job runs, which may
            name the job's env vars (``${TORCHRUN_CORE_JOB_DIR}/tracking``,
            expanded inside the job); None turns the ``file`` tracker off.
        mount: bind-mount ``path`` of this machine into every role at the
            same path (an engine on this machine, like a local docker daemon).
        notice: one line for the user: why the tracker is off, or where it went.
    """

    path: str | None
    mount: bool = False
    notice: str = ""


def mounts_path(app: AppDef, path: str) -> bool:
    """Whether every role of ``app`` mounts a directory holding ``path`` (or ``path`` itself)."""
    target = PurePosixPath(path)

    def holds(dst: str) -> bool:
        return target == PurePosixPath(dst) or PurePosixPath(dst) in target.parents

    return bool(app.roles) and all(
        any(holds(m.dst_path) for m in role.mounts) for role in app.roles
    )


__all__ = ["TrackerRoot", "mounts_path"]
