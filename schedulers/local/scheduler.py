"""The ``local`` scheduler: each replica is a process on this machine.

Apps live in ``<state_dir>/local/<session>/<app_id>/``. A detached
supervisor per app (``supervisor``) owns the replicas and writes
``state.json``; every method here only reads that dir or talks to the
supervisor's socket, so any later process can observe and control an app.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pydantic import Field

from torchrun_core import paths
from torchrun_core.errors import BackendError, InvalidInputError, InvalidOptionError
from torchrun_core.limits import MAX_GRACE_PERIOD_S
from torchrun_core.scheduler import ListedApp, Scheduler, SchedulerOptions, Stream, Watcher
from torchrun_core.schedulers.local.plan import LocalPlan, build_plan, format_plan, new_app_id
from torchrun_core.schedulers.local.state import read_state, settle_state
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]*$")
# How long cancel waits for the supervisor beyond the app's grace period.
_CANCEL_SLACK_S = 5.0


class LocalOptions(SchedulerOptions):
    """Run options of the local scheduler."""

    log_dir: str | None = Field(
        default=None,
        description="directory to keep logs in, as <log_dir>/<app_id>/<role>/<replica>/; "
        "default: the app's state dir, <state_dir>/local/<session>/<app_id>/logs",
    )
    grace_period: float = Field(
        default=5.0,
        ge=0,
        le=MAX_GRACE_PERIOD_S,  # finite: a cancel adds it to a deadline
        allow_inf_nan=False,
        description="seconds between SIGTERM and SIGKILL when stopping replicas",
    )


class LocalScheduler(Scheduler[LocalOptions]):
    """Runs each replica as a local process, supervised by a detached process per app."""

    Options = LocalOptions

    def __init__(
        self,
        session: str = "default",
        state_dir: str | os.PathLike[str] | None = None,
        **params: Any,
    ) -> None:
        """Args: ``session`` names the Runner session; ``state_dir`` overrides the state dir.

        Raises:
            InvalidInputError: for a session name unfit for a path or handle.
            InvalidOptionError: for a scheduler parameter other than ``state_dir``.
        """
        if params:
            raise InvalidOptionError(
                f"local scheduler: unknown parameter(s) {', '.join(sorted(params))}",
                hint="the local scheduler takes the parameter state_dir",
                scheduler="local",
            )
        if not _NAME_RE.match(session) or ":" in session:
            raise InvalidInputError(
                f"invalid session name {session!r}",
                hint="use letters, digits, '_', '.' and '-'",
            )
        super().__init__("local", session)
        root = Path(state_dir).expanduser().resolve() if state_dir else paths.state_dir()
        self.session_dir = root / "local" / session
        self._session_path = str(self.session_dir)
        self._hostname = socket.gethostname()

    def app_dir(self, app_id: str) -> str | None:
        """The dir of ``app_id`` in this session, None for an id that cannot name one."""
        if not _NAME_RE.match(app_id):
            return None
        return f"{self._session_path}/{app_id}"

    # -- submission ----------------------------------------------------------
    def _dryrun(self, app: AppDef, options: LocalOptions) -> AppDryRunInfo[LocalPlan]:
        app_id = new_app_id(app.name)
        app_dir = self.session_dir / app_id
        if options.log_dir:
            log_dir = Path(os.path.abspath(os.path.expanduser(options.log_dir))) / app_id
        else:
            log_dir = app_dir / "logs"
        plan = build_plan(
            app,
            app_id=app_id,
            session=self.session,
            app_dir=app_dir,
            log_dir=log_dir,
            grace_period=options.grace_period,
        )
        return self._dryrun_info(app, plan, options, format_plan, app_id)

    def _schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str:
        plan = self._request_of(dryrun_info, LocalPlan)
        from torchrun_core.schedulers.local.launch import launch

        launch(plan)
        return plan.app_id

    # -- observation ---------------------------------------------------------
    def _state(self, app_id: str) -> dict[str, Any] | None:
        app_dir = self.app_dir(app_id)
        if app_dir is None:
            return None
        try:
            return settle_state(app_dir, read_state(app_dir))
        except (OSError, ValueError, KeyError) as err:
            raise BackendError(
                f"cannot read the state of local app {app_id}: {err}",
                hint=f"look at {app_dir}/state.json",
                app_id=app_id,
                scheduler=self.name,
            ) from None

    def _describe(self, app_id: str) -> AppStatus | None:
        """The app's status from its state file; FAILED if its supervisor died.

        Raises:
            BackendError: the state file cannot be read.
        """
        state = self._state(app_id)
        if state is None:
            return None
        host = self._hostname
        # One nested dict validated in one call: the cheapest way into pydantic.
        return AppStatus.model_validate(
            {
                "state": state["state"],
                "handle": f"{self.name}://{self.session}/{app_id}",
                "num_restarts": state["num_restarts"],
                "message": state["message"],
                "created_at": state["created_at"],
                "finished_at": state["finished_at"],
                "roles": [
                    {
                        "role": role["role"],
                        "replicas": [
                            {
                                "id": rep["id"],
                                "role": role["role"],
                                "state": rep["state"],
                                "exit_code": rep["exit_code"],
                                "hostname": host,
                                "attempt": rep["attempt"],
                                "started_at": rep["started_at"],
                                "finished_at": rep["finished_at"],
                                "message": rep["message"],
                            }
                            for rep in role["replicas"]
                        ],
                    }
                    for role in state["roles"]
                ],
            }
        )

    def watch(self, app_id: str) -> AbstractContextManager[Watcher]:
        """A watcher woken by the app's supervisor on every state change."""
        from torchrun_core.schedulers.local.control import watch_app

        app_dir = self.app_dir(app_id)
        return watch_app(app_dir or os.devnull)

    def _list(self) -> list[ListedApp]:
        try:
            entries = list(os.scandir(self.session_dir))
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            try:
                state = settle_state(entry.path, read_state(entry.path))
            except (OSError, ValueError):  # one unreadable app must not hide the others
                state = {"created_at": 0.0, "state": AppState.UNKNOWN.value, "app_name": ""}
            if state is not None:
                found.append((state["created_at"], entry.name, state))
        found.sort(key=lambda item: (item[0], item[1]))
        return [ListedApp(app_id, AppState(s["state"]), s["app_name"]) for _, app_id, s in found]

    def _log_iter(
        self,
        app_id: str,
        role_name: str,
        k: int,
        since: float | None,
        until: float | None,
        should_tail: bool,
        streams: Stream,
        attempt: int | None,
    ) -> Iterator[str]:
        from torchrun_core.schedulers.local.log_reader import replica_lines

        app_dir = self.app_dir(app_id)
        state = self._state(app_id)
        if app_dir is None or state is None:  # deleted since the base checked
            return iter(())
        role_index = _role_index(state, app_id, role_name)
        replicas = state["roles"][role_index]["replicas"]
        if not 0 <= k < len(replicas):
            raise InvalidInputError(
                f"role {role_name!r} of {app_id} has no replica {k}; "
                f"replicas: 0..{len(replicas) - 1}"
            )
        current = replicas[k]["attempt"]
        if attempt is not None and not 0 <= attempt <= current:
            raise InvalidInputError(
                f"replica {role_name}/{k} of {app_id} has no attempt {attempt}; "
                f"attempts so far: 0..{current}"
            )
        return replica_lines(
            app_dir,
            f"{state['log_dir']}/{role_name}/{k}",
            (role_index, k),
            Stream(streams).value,
            since,
            until,
            should_tail,
            attempt,
        )

    # -- control -------------------------------------------------------------
    def _cancel(self, app_id: str) -> None:
        self._cancel_with_grace(app_id, None)

    def _cancel_with_grace(self, app_id: str, grace_period: float | None) -> None:
        """SIGTERM every replica, SIGKILL after ``grace_period`` s (default: the app's option)."""
        from torchrun_core.schedulers.local.control import force_cancel, request_cancel

        app_dir = self.app_dir(app_id)
        state = self._state(app_id)
        if app_dir is None or state is None:
            return
        grace = float(state["grace_period"]) if grace_period is None else grace_period
        try:
            if not request_cancel(app_dir, grace + _CANCEL_SLACK_S, grace_period):
                force_cancel(app_dir)
        except OSError as err:
            raise BackendError(
                f"cannot cancel local app {app_id}: {err}", app_id=app_id, scheduler=self.name
            ) from None

    def _delete(self, app_id: str) -> None:
        """Remove the ended app's dir (state, plan, logs) and its log dir, if elsewhere."""
        from torchrun_core.schedulers.local.control import remove_app_files

        app_dir = self.app_dir(app_id)
        state = self._state(app_id)
        if app_dir is None or state is None:
            return
        try:
            removed = remove_app_files(app_dir, state.get("log_dir"), _CANCEL_SLACK_S)
        except OSError as err:
            raise BackendError(
                f"cannot delete local app {app_id}: {err}", app_id=app_id, scheduler=self.name
            ) from None
        if not removed:
            raise BackendError(
                f"cannot delete local app {app_id}: its supervisor is still running",
                hint=f"try again; or look at {app_dir}/supervisor.log",
                app_id=app_id,
                scheduler=self.name,
            )


def _role_index(state: dict[str, Any], app_id: str, role_name: str) -> int:
    names = [role["role"] for role in state["roles"]]
    if role_name not in names:
        raise InvalidInputError(
            f"app {app_id} has no role {role_name!r}; roles: {', '.join(names)}"
        )
    return names.index(role_name)
