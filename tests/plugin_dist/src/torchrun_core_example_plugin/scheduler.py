"""The "example" scheduler: it records apps in JSON files instead of running them.

Each scheduled app becomes ``<record_dir>/<app_id>.json``. Nothing is
executed: the app is put straight into the state the ``outcome`` option
names, and its "log" says what each replica would have run. That makes it a
complete, real Scheduler that is safe to try anywhere, from any process.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from torchrun_core.plugin import (
    AppDef,
    AppDryRunInfo,
    AppState,
    AppStatus,
    InvalidInputError,
    ListedApp,
    Macros,
    ReplicaStatus,
    RoleStatus,
    Scheduler,
    SchedulerOptions,
    Stream,
    state_dir,
)

_APP_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ExampleOptions(SchedulerOptions):
    """Run options of the example scheduler (``--cfg outcome=FAILED,message=hi``)."""

    outcome: Literal["SUCCEEDED", "FAILED", "RUNNING"] = Field(
        default="SUCCEEDED",
        description="the state each app is recorded in; RUNNING apps stay until cancelled",
    )
    message: str = Field(default="", description="a note kept with the app and shown in status")


@dataclass(frozen=True)
class ExampleRequest:
    """The native request: what would run, per role and replica."""

    app_id: str
    app_name: str
    outcome: str
    message: str
    commands: dict[str, list[list[str]]]  # role name -> one argv per replica


class ExampleScheduler(Scheduler[ExampleOptions]):
    """Records apps in files; see the module docstring."""

    Options = ExampleOptions

    def __init__(self, session: str, record_dir: str | None = None) -> None:
        super().__init__("example", session)
        self.record_dir = Path(record_dir) if record_dir else state_dir() / "example-scheduler"

    # -- submission ---------------------------------------------------------
    def _dryrun(self, app: AppDef, options: ExampleOptions) -> AppDryRunInfo[ExampleRequest]:
        app_id = f"{app.name}-{uuid.uuid4().hex[:8]}"
        commands = {
            role.name: [
                [role.entrypoint, *Macros(app_id=app_id, replica_id=str(i)).apply_args(role.args)]
                for i in range(role.num_replicas)
            ]
            for role in app.roles
        }
        request = ExampleRequest(app_id, app.name, options.outcome, options.message, commands)
        return AppDryRunInfo(
            request=request,
            app=app,
            scheduler=self.name,
            session=self.session,
            cfg=options,
            formatter=lambda req: json.dumps(asdict(req), indent=2),
            app_id=app_id,
        )

    def _schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str:
        request: ExampleRequest = dryrun_info.request
        record = {
            **asdict(request),
            "session": self.session,
            "state": request.outcome,
            "created_at": time.time(),
        }
        self._write(request.app_id, record)
        return request.app_id

    # -- observation --------------------------------------------------------
    def _describe(self, app_id: str) -> AppStatus | None:
        record = self._read(app_id)
        if record is None:
            return None
        state = AppState(record["state"])
        exit_code = {AppState.SUCCEEDED: 0, AppState.FAILED: 1}.get(state)
        roles = [
            RoleStatus(
                role=role,
                replicas=[
                    ReplicaStatus(id=i, role=role, state=state, exit_code=exit_code)
                    for i in range(len(argvs))
                ],
            )
            for role, argvs in record["commands"].items()
        ]
        return AppStatus(
            state=state,
            handle=f"{self.name}://{self.session}/{app_id}",
            message=record["message"],
            roles=roles,
            created_at=record["created_at"],
        )

    def _list(self) -> list[ListedApp]:
        apps = []
        for path in sorted(self.record_dir.glob("*.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            if record["session"] == self.session:
                apps.append(
                    ListedApp(record["app_id"], AppState(record["state"]), record["app_name"])
                )
        return apps

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
        record = self._read(app_id) or {}
        argvs = record.get("commands", {}).get(role_name)
        if argvs is None:
            raise InvalidInputError(f"app {app_id!r} has no role {role_name!r}")
        if not 0 <= k < len(argvs):
            raise InvalidInputError(f"role {role_name!r} has no replica {k}")
        created = float(record["created_at"])
        in_window = (since is None or created >= since) and (until is None or created <= until)
        lines = (
            []
            if streams is Stream.STDERR or not in_window
            else [f"{role_name}/{k} would run: {shlex.join(argvs[k])}\n"]
        )
        return self._follow(app_id, lines) if should_tail else iter(lines)

    def _follow(self, app_id: str, lines: list[str]) -> Iterator[str]:
        """Yield ``lines``, then wait (as ``log -f`` does) until the app is terminal."""
        yield from lines
        while (record := self._read(app_id)) and not AppState(record["state"]).is_terminal:
            time.sleep(0.05)

    # -- control ------------------------------------------------------------
    def _cancel(self, app_id: str) -> None:
        record = self._read(app_id)
        if record is not None:
            self._write(app_id, {**record, "state": AppState.CANCELLED.value})

    # -- the record files ---------------------------------------------------
    def _path(self, app_id: str) -> Path:
        if not _APP_ID_RE.match(app_id):  # the id becomes a file name: no "/" or ".."
            raise InvalidInputError(f"malformed example app id {app_id!r}")
        return self.record_dir / f"{app_id}.json"

    def _read(self, app_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._path(app_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data

    def _write(self, app_id: str, record: dict[str, Any]) -> None:
        # Write then rename, so that a reader in another process never sees half a file.
        self.record_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.record_dir / f".{app_id}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, self._path(app_id))


def create_scheduler(session: str, record_dir: str | None = None) -> ExampleScheduler:
    """The factory the plugin registers, called as ``factory(session=..., **scheduler_params)``."""
    return ExampleScheduler(session, record_dir=record_dir)
