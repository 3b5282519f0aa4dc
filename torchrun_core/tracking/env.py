"""The env vars that let a running job find its own handle, its parent run and its trackers.

``Runner.dryrun`` adds them to every role, so that tracker plugins inside
the job can report to the right experiment and link child runs to parents.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.macros import APP_ID

if TYPE_CHECKING:
    from torchrun_core.scheduler import Scheduler

APP_HANDLE_ENV = "TORCHRUN_CORE_APP_HANDLE"
PARENT_RUN_ID_ENV = "TORCHRUN_CORE_PARENT_RUN_ID"
TRACKERS_ENV = "TORCHRUN_CORE_TRACKERS"
DEFAULT_TRACKER = "file"
_NOT_ENV_CHARS = re.compile(r"[^A-Za-z0-9_]")
_TRACKER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def tracker_config_env(name: str) -> str:
    """``TORCHRUN_CORE_TRACKER_<NAME>_CONFIG``: ``name`` upper-cased, odd characters as ``_``."""
    return f"TORCHRUN_CORE_TRACKER_{_NOT_ENV_CHARS.sub('_', name).upper()}_CONFIG"


def resolve_parent_run_id(
    explicit: str | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The parent run id for an app being launched, or None.

    In order: ``explicit``; this process's own handle when it runs inside a
    torchrun_core job (its children are its runs); then an exported
    ``TORCHRUN_CORE_PARENT_RUN_ID``. Inside a job that variable names the
    job's *own* parent, so it must come after the job's handle.
    """
    env = os.environ if environ is None else environ
    for candidate in (explicit, env.get(APP_HANDLE_ENV), env.get(PARENT_RUN_ID_ENV)):
        if candidate:
            return candidate
    return None


def resolve_trackers(
    config: Mapping[str, str | None] | None, environ: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """Tracker name -> config for the job.

    Without ``config``, the trackers are those the launching process has in
    ``TORCHRUN_CORE_TRACKERS`` (set but empty: none); when that variable is
    not set either, the ``file`` tracker alone, so that ``torchrun-core
    metrics`` works with no configuration. A tracker whose config is None
    takes it from the launching process's ``TORCHRUN_CORE_TRACKER_<NAME>_CONFIG``;
    the ``file`` tracker without one gets the absolute default root
    (``<state dir>/tracking``). An explicit ``config`` (the config files'
    ``[trackers.NAME]`` tables) is exactly the trackers used: ``{}`` is none.

    Raises:
        InvalidInputError: for a tracker name that cannot go in a comma list.
    """
    env = os.environ if environ is None else environ
    if config is None:
        if TRACKERS_ENV not in env:  # nothing configured at all: the default tracker
            config = {DEFAULT_TRACKER: None}
        else:  # set, even empty: exactly these ("" means none)
            names = [n.strip() for n in env[TRACKERS_ENV].split(",") if n.strip()]
            config = dict.fromkeys(names)
    for name in config:
        if not _TRACKER_NAME.match(name):
            raise InvalidInputError(
                f"invalid tracker name {name!r}",
                hint="use letters, digits, '_', '.' and '-'",
            )
    out = {name: value or env.get(tracker_config_env(name)) for name, value in config.items()}
    if DEFAULT_TRACKER in out and not out[DEFAULT_TRACKER]:
        # The absolute root, so the job writes exactly where `metrics` reads
        # (the job's own state dir may differ from the launcher's).
        from torchrun_core.tracking.file_layout import default_root

        out[DEFAULT_TRACKER] = str(default_root())
    return out


def tracker_env(
    scheduler: str,
    session: str,
    parent_run_id: str | None,
    trackers: Mapping[str, str | None],
) -> dict[str, str]:
    """The env vars to add to every role; the handle keeps ``${app_id}`` for the scheduler."""
    env = {APP_HANDLE_ENV: f"{scheduler}://{session}/{APP_ID}"}
    if parent_run_id:
        env[PARENT_RUN_ID_ENV] = parent_run_id
    if trackers:
        env[TRACKERS_ENV] = ",".join(trackers)
        for name, config in trackers.items():
            if config:
                env[tracker_config_env(name)] = config
    return env


def place_file_tracker(
    sched: Scheduler[Any],
    app: AppDef,
    cfg: Mapping[str, Any] | None,
    trackers: Mapping[str, str | None],
) -> tuple[AppDef, dict[str, str | None], list[str]]:
    """``app`` and ``trackers`` with the ``file`` tracker's root where ``sched``'s job can reach it.

    Asks :meth:`Scheduler.tracker_root`: the root may stay, move (Slurm: into
    the job dir), be bind-mounted from this machine (added to every role;
    the directory is made here) or be dropped (the tracker is off in the
    job). A root that already names the job's env vars is left alone.
    Returns the notes to show the user.
    """
    from torchrun_core.tracking.file_layout import default_root, names_job_env, root_of

    root = trackers.get(DEFAULT_TRACKER)
    if not root or names_job_env(root):
        return app, dict(trackers), []
    is_default = root == str(default_root())
    placed = sched.tracker_root(root, app, sched.parse_options(cfg), is_default)
    notes = [placed.notice] if placed.notice else []
    if placed.path is None:
        return app, {k: v for k, v in trackers.items() if k != DEFAULT_TRACKER}, notes
    path = placed.path
    if placed.mount:
        path = os.path.abspath(root_of(path))
        Path(path).mkdir(parents=True, exist_ok=True)  # a bind mount needs its source
        app = _with_bind_mount(app, path)
    return app, {**trackers, DEFAULT_TRACKER: path}, notes


def _with_bind_mount(app: AppDef, path: str) -> AppDef:
    """``app`` with ``path`` bind-mounted at the same path in every role that lacks it."""
    from torchrun_core.specs.mounts import BindMount

    mount = BindMount(src_path=path, dst_path=path)
    roles = [
        role
        if any(m.dst_path == path for m in role.mounts)  # a re-run keeps the earlier one
        else role.model_copy(update={"mounts": [*role.mounts, mount]})
        for role in app.roles
    ]
    return app.model_copy(update={"roles": roles})


def inject_env(app: AppDef, env: Mapping[str, str]) -> AppDef:
    """A copy of ``app`` whose every role has ``env`` over its own.

    Copies without re-validating: the keys above are valid env names, and a
    dry run of a role with 1000 replicas must stay cheap.
    """
    roles = [role.model_copy(update={"env": {**role.env, **env}}) for role in app.roles]
    return app.model_copy(update={"roles": roles})


def parent_run_id_of(app: AppDef) -> str | None:
    """The parent run id injected into ``app``'s roles, if any."""
    for role in app.roles:
        if role.env.get(PARENT_RUN_ID_ENV):
            return role.env[PARENT_RUN_ID_ENV]
    return None
