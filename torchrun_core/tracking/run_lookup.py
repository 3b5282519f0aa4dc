"""Find a run's ``file`` tracker root from the run store, and read what the run reported.

Light on purpose (no Runner, no pydantic): ``torchrun-core metrics`` over
100,000 points spends its time reading them, not importing. The root is the
``TORCHRUN_CORE_TRACKER_FILE_CONFIG`` recorded in the run's stored AppDef
(read as plain JSON), else the default root.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.tracking.file_layout import root_of

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


def file_root(store: RunStore, handle: AppHandle) -> Path:
    """The ``file`` tracker root the run was launched with.

    Raises:
        AppNotFoundError: the run store does not know ``handle``.
    """
    from torchrun_core.runner_calls import app_not_found

    record = store.get(str(handle))
    if record is None:
        raise app_not_found(handle)
    return root_of(recorded_file_config(record.app_json))


def read_tracked(store: RunStore, handle: AppHandle) -> RunData:
    """Everything the ``file`` tracker holds for ``handle``."""
    from torchrun_core.tracking.file_reader import read_run

    return read_run(file_root(store, handle), str(handle))


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


__all__ = ["file_root", "read_tracked", "recorded_file_config", "select_metrics"]
