"""Where the ``file`` tracker keeps a run: ``<root>/<scheduler>/<session>/<app_id>/``.

Each reporting process appends to its own ``<role>.<replica>.<host>.<pid>.jsonl``
in the run's directory, so writers never share a file and need no lock. A
line is one JSON object whose ``t`` says what it records:

=====  ==============================================================
``r``  the process started: handle, parent, role, replica, host, pid
``m``  a metric: ``k`` tag, ``v`` value, ``s`` step, ``w`` unix time
``g``  progress: ``k`` operation, ``v`` value, ``f`` final value, ``u`` units
``p``  params: ``d`` the mapping
``a``  an artifact: ``n`` name, ``p`` path, ``kind``, ``md`` metadata
       (checkpoints: ``s`` step, ``c`` complete)
``l``  lineage: ``src`` a run id or URI, ``kind``
=====  ==============================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

FILE_EXT = ".jsonl"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def default_root() -> Path:
    """``<state dir>/tracking``: where the ``file`` tracker writes when given no root."""
    from torchrun_core.paths import state_dir

    return state_dir() / "tracking"


def root_of(config: str | None) -> Path:
    """The root directory a ``file`` tracker config names (a path, or a ``file://`` URI)."""
    if not config:
        return default_root()
    return Path(config.removeprefix("file://")).expanduser()


def names_job_env(config: str | None) -> bool:
    """Whether ``config`` names env vars of the job (``${NAME}``): a root only the job can resolve.

    A scheduler gives such a root when its replicas do not see this
    machine's files (Slurm: ``${TORCHRUN_CORE_JOB_DIR}/tracking``).
    """
    return bool(config) and _ENV_REF.search(str(config)) is not None


def job_root(config: str | None, environ: Mapping[str, str]) -> Path:
    """The root a job writes to: :func:`root_of`, its ``${NAME}`` taken from the job's env.

    Raises:
        ValueError: a variable it names is not set in ``environ``.
    """

    def value(match: re.Match[str]) -> str:
        name = match[1]
        if not environ.get(name):
            raise ValueError(f"its root {config} names ${{{name}}}, which is not set in this job")
        return environ[name]

    return root_of(_ENV_REF.sub(value, config) if config else config)


def safe_part(text: str) -> str:
    """``text`` as one path component: odd characters as ``_``, never ``.``/``..``/empty."""
    part = _UNSAFE.sub("_", text)
    return part if part.strip(".") else part.replace(".", "_") or "_"


def run_dir(root: Path, handle: str) -> Path:
    """The directory of the run ``handle`` (``scheduler://session/app_id``) under ``root``."""
    scheduler, _, rest = handle.partition("://")
    session, _, app_id = rest.partition("/")
    return root / safe_part(scheduler) / safe_part(session) / safe_part(app_id)


def process_file_name(role: str, replica_id: str, host: str, pid: int) -> str:
    """The file name of one reporting process."""
    parts = (role or "_", replica_id or "_", host or "_", str(pid))
    return ".".join(safe_part(p) for p in parts) + FILE_EXT


__all__ = [
    "FILE_EXT",
    "default_root",
    "job_root",
    "names_job_env",
    "process_file_name",
    "root_of",
    "run_dir",
    "safe_part",
]
