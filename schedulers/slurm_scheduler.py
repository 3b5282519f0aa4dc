"""The ``slurm`` scheduler: an app is one sbatch job (heterogeneous for several roles).

Commands run on the login node over SSH (:mod:`ssh_transport`), one reused
connection per scheduler (so per runner), or locally when the host is
``localhost`` with no SSH settings. The app id is Slurm's job id (the het
leader's). What an app is lives in Slurm: the job's comment carries the tag
``torchrun_core:<session>:<role>=<replicas>,...``, so ``describe`` and
``list`` work from any process with one round trip. This machine only keeps
which host an app went to, when that is not the scheduler's default.

Modules: ``slurm_options`` options; ``slurm_script`` the sbatch script;
``slurm_status`` squeue/sacct parsing; ``slurm_app_status`` job records to
AppStatus; ``slurm_logs`` log lines over SFTP; ``slurm_workspace`` the
workspace sync.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from torchrun_core.errors import BackendError, InvalidInputError, InvalidOptionError
from torchrun_core.paths import state_dir
from torchrun_core.scheduler import ListedApp, Scheduler, Stream
from torchrun_core.schedulers.slurm_app_status import app_state, app_status, job_tag
from torchrun_core.schedulers.slurm_local_transport import LocalTransport
from torchrun_core.schedulers.slurm_options import SlurmOptions
from torchrun_core.schedulers.slurm_script import (
    SlurmRequest,
    build_request,
    format_request,
)
from torchrun_core.schedulers.slurm_status import (
    SlurmJob,
    parse_status_output,
    status_command,
)
from torchrun_core.schedulers.slurm_workspace import WORKSPACE_METADATA
from torchrun_core.schedulers.ssh_target import resolve_target
from torchrun_core.schedulers.ssh_transport import SSHTransport, Transport
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.status import AppStatus

_CONNECTION_KEYS = (
    "host",
    "port",
    "user",
    "identity_file",
    "known_hosts",
    "ssh_config",
    "connect_timeout",
)
_JOB_ID_RE = re.compile(r"^\d+$")


class SlurmScheduler(Scheduler[SlurmOptions]):
    """Submits each app as one sbatch job on a Slurm cluster, over SSH."""

    Options = SlurmOptions

    def __init__(self, session: str = "default", **params: Any) -> None:
        """Params: the connection options (host, port, user, identity_file, known_hosts,
        ssh_config, connect_timeout) used to observe apps; submission uses each run's options.

        Raises:
            InvalidOptionError: for any other parameter.
        """
        unknown = set(params) - set(_CONNECTION_KEYS)
        if unknown:
            raise InvalidOptionError(
                f"slurm scheduler: unknown parameter(s) {', '.join(sorted(unknown))}",
                hint=f"the slurm scheduler takes the parameters {', '.join(_CONNECTION_KEYS)}",
                scheduler="slurm",
            )
        super().__init__("slurm", session)
        self.connection = self.parse_options(params)
        self._transports: dict[tuple[Any, ...], Transport] = {}
        self._lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------
    def transport(self, options: SlurmOptions | None = None) -> Transport:
        """The (reused) transport to the login node of ``options`` (default: this scheduler's)."""
        opts = options or self.connection
        key = tuple(getattr(opts, k) for k in _CONNECTION_KEYS)
        with self._lock:
            found = self._transports.get(key)
            if found is None:
                if opts.is_local:
                    found = LocalTransport()
                else:
                    found = SSHTransport(
                        resolve_target(
                            opts.host,
                            opts.port,
                            opts.user,
                            opts.identity_file,
                            opts.known_hosts,
                            opts.ssh_config,
                            opts.connect_timeout,
                        )
                    )
                self._transports[key] = found
            return found

    def _record_path(self, app_id: str) -> Path:
        return state_dir() / "slurm" / self.session / f"{app_id}.json"

    def _app_transport(self, app_id: str) -> Transport:
        """The transport of the host ``app_id`` was submitted to."""
        try:
            saved = json.loads(self._record_path(app_id).read_text())
        except (OSError, ValueError):
            return self.transport()
        return self.transport(SlurmOptions.model_validate(saved))

    def jobs(
        self, app_ids: list[str], transport: Transport | None = None
    ) -> dict[str, list[SlurmJob]]:
        """This session's jobs by app id (all when ``app_ids`` is empty), in one round trip."""
        ids = [a for a in app_ids if _JOB_ID_RE.match(a)]
        if app_ids and not ids:
            return {}
        transport = transport or (self._app_transport(ids[0]) if ids else self.transport())
        done = transport.run(status_command(ids), rerun_on_drop=True)
        if "squeue" in done.stderr and "{" not in done.stdout:
            raise BackendError(f"squeue failed: {_first_line(done.stderr)}", scheduler="slurm")
        try:
            user, by_id = parse_status_output(done.stdout)
        except (ValueError, KeyError) as err:
            raise BackendError(f"unreadable squeue output: {err}", scheduler="slurm") from None
        return {
            app_id: jobs
            for app_id, jobs in by_id.items()
            if (not ids or app_id in ids)
            and jobs[0].user == user
            and job_tag(jobs[0])[0] == self.session
        }

    # -- submission -----------------------------------------------------------
    def _dryrun(self, app: AppDef, options: SlurmOptions) -> AppDryRunInfo[SlurmRequest]:
        # The scheduler's own connection params fill what the run's options leave unset.
        inherited = {
            key: getattr(self.connection, key)
            for key in self.connection.model_fields_set - options.model_fields_set
        }
        if inherited:
            options = options.model_copy(update=inherited)
        workspace = app.metadata.get(WORKSPACE_METADATA)
        request = build_request(app, options, self.session, workspace)
        return self._dryrun_info(app, request, options, format_request)

    def _schedule(self, dryrun_info: AppDryRunInfo[Any]) -> str:
        request = self._request_of(dryrun_info, SlurmRequest)
        transport = self.transport(request.options)
        if request.workspace:
            from torchrun_core.schedulers.slurm_workspace import sync_workspace

            assert request.workspace_cache is not None
            sync_workspace(transport, request.workspace, request.workspace_cache)
        done = transport.run(request.command, request.script.encode())
        job_id = done.stdout.strip().split(";")[0]
        if done.returncode != 0 or not _JOB_ID_RE.match(job_id):
            raise BackendError(
                f"sbatch failed (exit {done.returncode}): "
                f"{_first_line(done.stderr or done.stdout)}",
                hint="see the script with: torchrun-core dryrun -s slurm ...",
                scheduler="slurm",
            )
        if request.options.model_dump(include=set(_CONNECTION_KEYS)) != self.connection.model_dump(
            include=set(_CONNECTION_KEYS)
        ):
            path = self._record_path(job_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(request.options.model_dump_json(include=set(_CONNECTION_KEYS)))
        return job_id

    # -- observation ----------------------------------------------------------
    def _describe(self, app_id: str) -> AppStatus | None:
        jobs = self.jobs([app_id]).get(app_id)
        if not jobs:
            return None
        return app_status(jobs, f"slurm://{self.session}/{app_id}")

    def _list(self) -> list[ListedApp]:
        found = self.jobs([])
        listed = [
            ListedApp(app_id, app_state(jobs), jobs[0].name) for app_id, jobs in found.items()
        ]
        return sorted(listed, key=lambda a: int(a.app_id))

    def _cancel(self, app_id: str) -> None:
        from torchrun_core.schedulers.slurm_control import scancel

        scancel(self._app_transport(app_id), app_id)

    def _cancel_with_grace(self, app_id: str, grace_period: float) -> None:
        from torchrun_core.schedulers.slurm_control import cancel_with_grace

        def has_ended() -> bool:
            jobs = self.jobs([app_id]).get(app_id)
            return not jobs or app_state(jobs).is_terminal

        cancel_with_grace(self._app_transport(app_id), app_id, grace_period, has_ended)

    def _delete(self, app_id: str) -> None:
        """Remove the ended app's job dir on the cluster, and what this machine kept of it."""
        from torchrun_core.schedulers.slurm_control import remove_job_dir

        jobs = self.jobs([app_id]).get(app_id)
        if jobs and jobs[0].work_dir:
            remove_job_dir(self._app_transport(app_id), jobs[0].work_dir)
        self._record_path(app_id).unlink(missing_ok=True)

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
        from torchrun_core.schedulers.slurm_logs import LogFollower

        jobs = self.jobs([app_id]).get(app_id) or []
        roles = dict(job_tag(jobs[0])[1]) if jobs else {}
        if role_name not in roles:
            raise InvalidInputError(f"app {app_id} has no role {role_name!r}; roles: {list(roles)}")
        if not 0 <= k < roles[role_name]:
            raise InvalidInputError(f"role {role_name!r} has no replica {k}")
        follower = LogFollower(
            self._app_transport(app_id),
            jobs[0].work_dir,
            role_name,
            k,
            streams,
            is_done=lambda: app_state(self.jobs([app_id]).get(app_id) or jobs).is_terminal,
        )
        return follower.lines(should_tail)

    def close(self) -> None:
        """Close every SSH connection."""
        with self._lock:
            for transport in self._transports.values():
                transport.close()
            self._transports.clear()


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else "(no output)"
