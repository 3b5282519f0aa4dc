"""Find a run's ``file`` tracker root from the run store, and read what the run reported.

Light on purpose (no Runner, no pydantic): ``torchrun-core metrics`` over
100,000 points spends its time reading them, not importing. The root is the
``TORCHRUN_CORE_TRACKER_FILE_CONFIG`` recorded in the run's stored AppDef
(read as plain JSON), else the default root. A root that names the job's env
vars is where the job ran, not here: it reads as nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import AppNotFoundError
from torchrun_core.tracking.file_layout import names_job_env, root_of

if TYPE_CHECKING:
    from torchrun_core.runstore import RunStore
    from torchrun_core.specs.handle import AppHandle
    from torchrun_core.tracking.records import MetricPoint, RunData

FILE_CONFIG_ENV = "TORCHRUN_CORE_TRACKER_FILE_CONFIG"


def recorded_file_config(app_json: str | None) -> str | None:
    """``TORCHRUN_CORE_TRACKER_FILE_CONFIG`` of a stored AppDef's roles, if any."""
    if not app_json:
        return None
    try:
        roles: list[dict[str, Any]] = json.loads(app_json).get("roles") or []
    except (ValueError, AttributeError):
        return None
    for role in roles:
        value = (role.get("env") or {}).get(FILE_CONFIG_ENV)
        if value:
            return str(value)
    return None


def _file_config(store: RunStore, handle: AppHandle) -> str | None:
    record = store.get(str(handle))
    if record is None:
        raise AppNotFoundError.for_handle(handle)
    return recorded_file_config(record.app_json)


def file_root(store: RunStore, handle: AppHandle) -> Path | None:
    """The ``file`` tracker root the run was launched with, None when it is not on this machine.

    None for a root that names the job's env vars (see :func:`job_side_root`).

    Raises:
        AppNotFoundError: the run store does not know ``handle``.
    """
    config = _file_config(store, handle)
    return None if names_job_env(config) else root_of(config)


def job_side_root(store: RunStore, handle: AppHandle) -> str | None:
    """The root the run's job wrote to where it ran, when this machine cannot read it.

    Such a root names the job's env vars, e.g. ``${TORCHRUN_CORE_JOB_DIR}/tracking``
    (Slurm's job dir on the cluster); None for a root on this machine.

    Raises:
        AppNotFoundError: the run store does not know ``handle``.
    """
    config = _file_config(store, handle)
    return config if names_job_env(config) else None


def read_tracked(store: RunStore, handle: AppHandle) -> RunData:
    """Everything the ``file`` tracker holds for ``handle`` on this machine."""
    from torchrun_core.tracking.file_reader import read_run
    from torchrun_core.tracking.records import RunData

    root = file_root(store, handle)
    return RunData() if root is None else read_run(root, str(handle))


def select_metrics(
    data: RunData, tag: str | None, step: int | None, progress: bool = True
) -> list[MetricPoint]:
    """The metric points (then the progress reports) matching ``tag`` and ``step``."""
    points = data.metrics + (data.progress if progress else [])
    if tag is not None:
        points = [p for p in points if p.tag == tag]
    if step is not None:
        points = [p for p in points if p.step == step]
    return points


__all__ = ["file_root", "job_side_root", "read_tracked", "recorded_file_config", "select_metrics"]
