"""What this machine keeps of each Slurm app it submitted: where it went, and its job dir.

A run submitted through ``get_runner(scheduler_params={"slurm": {...}})`` or
``--cfg host=...`` must be found again from any later process, which may
have other defaults; and a cluster need not keep job comments in
accounting, nor remember a job past ``MinJobAge``. So each submission
writes one small JSON file under the state dir: the connection target
(never a secret: a key file's path, not the key), the job dir on the
cluster and the comment tag (session, roles, replicas).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from torchrun_core.paths import state_dir

CONNECTION_KEYS = (
    "host",
    "port",
    "user",
    "identity_file",
    "known_hosts",
    "ssh_config",
    "connect_timeout",
)


@dataclass(frozen=True)
class AppRecord:
    """One submitted app, as this machine recorded it."""

    target: dict[str, Any]  # the CONNECTION_KEYS of the run's options
    job_dir: str = ""
    tag: str = ""  # the job comment's tag: torchrun_core:<session>:<role>=<n>[x<k>],...
    name: str = ""

    @property
    def target_key(self) -> tuple[Any, ...]:
        return tuple(self.target.get(k) for k in CONNECTION_KEYS)


class AppRecords:
    """The per-app records of one session: ``<state dir>/slurm/<session>/<app id>.json``."""

    def __init__(self, session: str) -> None:
        self.session = session

    @property
    def folder(self) -> Path:
        return state_dir() / "slurm" / self.session

    def path(self, app_id: str) -> Path:
        return self.folder / f"{app_id}.json"

    def save(self, app_id: str, record: AppRecord) -> None:
        """Write the record atomically (a reader never sees half of it), owner-only."""
        path = self.path(app_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(record), out)
        os.replace(tmp, path)

    def get(self, app_id: str) -> AppRecord | None:
        """The app's record; None when there is none or it is unreadable."""
        if not app_id.isdigit():
            return None
        try:
            data = json.loads(self.path(app_id).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        if "target" not in data:  # written before job dirs were kept: the target alone
            data = {"target": data}
        try:
            return AppRecord(**data)
        except TypeError:
            return None

    def ids(self) -> list[str]:
        """Every recorded app id of the session."""
        try:
            return sorted(p.stem for p in self.folder.glob("*.json") if p.stem.isdigit())
        except OSError:
            return []

    def forget(self, app_id: str) -> None:
        self.path(app_id).unlink(missing_ok=True)
