"""The ``slurm`` scheduler: an app is one sbatch job (heterogeneous for several roles).

Commands run on the login node over SSH (:mod:`ssh_transport`), one reused
connection per scheduler (so per runner), or locally when the host is
``localhost`` with no SSH settings. The app id is Slurm's job id (the het
leader's). What an app is lives in Slurm: the job's comment carries the tag
``torchrun_core:<session>:<role>=<replicas>,...``, and the batch script
leaves its outcome in the job dir, so that nothing depends on how the site
configured Slurm (job comments in accounting, ``MinJobAge``). This machine
keeps, per app, where it went (the connection target) and its job dir
(:mod:`record`), so a run is found again from any process. Status of
any number of apps on one cluster is one SSH round trip.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

from torchrun_core.errors import (
    BackendError,
    InvalidInputError,
    InvalidOptionError,
    SchedulerUnavailableError,
)
from torchrun_core.scheduler import ListedApp, Scheduler, Stream
from torchrun_core.schedulers.slurm.app_status import (
    SlurmApp,
    app_status,
    job_tag,
    job_tag_roles,
    resolved_state,
)
from torchrun_core.schedulers.slurm.local_transport import LocalTransport
from torchrun_core.schedulers.slurm.options import SlurmOptions
from torchrun_core.schedulers.slurm.record import CONNECTION_KEYS, AppRecord, AppRecords
from torchrun_core.schedulers.slurm.script import (
    SlurmRequest,
    build_request,
    format_request,
)
from torchrun_core.schedulers.slurm.ssh_target import resolve_target
from torchrun_core.schedulers.slurm.ssh_transport import SSHTransport, Transport
from torchrun_core.schedulers.slurm.status import (
    ControllerUnavailable,
    SqueueFailed,
    parse_status_output,
    status_command,
)
from torchrun_core.schedulers.slurm.workspace import WORKSPACE_METADATA
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.status import AppStatus

_JOB_ID_RE = re.compile(r"^\d+$")


class SlurmScheduler(Scheduler[SlurmOptions]):
    """Submits each app as one sbatch job on a Slurm cluster, over SSH."""

    Options = SlurmOptions
    # The nodes do not see this machine's files, but every replica sees its job dir
    # (the batch script exports it): the file tracker writes there by default.
    job_tracker_root = "${TORCHRUN_CORE_JOB_DIR}/tracking"

    def __init__(self, session: str = "default", **params: Any) -> None:
        """Params: the connection options (host, port, user, identity_file, known_hosts,
        ssh_config, connect_timeout) used to observe apps; submission uses each run's options.

        Raises:
            InvalidOptionError: for any other parameter.
        """
        unknown = set(params) - set(CONNECTION_KEYS)
        if unknown:
            raise InvalidOptionError(
                f"slurm scheduler: unknown parameter(s) {', '.join(sorted(unknown))}",
                hint=f"the slurm scheduler takes the parameters {', '.join(CONNECTION_KEYS)}",
                scheduler="slurm",
            )
        super().__init__("slurm", session)
        self.connection = self.parse_options(params)
        self.records = AppRecords(session)
        self._transports: dict[tuple[Any, ...], Transport] = {}
        self._lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------
    def transport(self, options: SlurmOptions | None = None) -> Transport:
        """The (reused) transport to the login node of ``options`` (default: this scheduler's)."""
        opts = options or self.connection
        key = tuple(getattr(opts, k) for k in CONNECTION_KEYS)
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

    def _options_of(self, record: AppRecord | None) -> SlurmOptions:
        """The connection options an app was submitted with (this scheduler's without a record)."""
        if record is None:
            return self.connection
        return SlurmOptions.model_validate(record.target)

    def apps(self, app_ids: list[str], transport: Transport | None = None) -> dict[str, SlurmApp]:
        """This session's apps among ``app_ids``, one round trip per cluster they went to
        (through ``transport`` when given: all on one cluster)."""
        groups: dict[tuple[Any, ...], list[tuple[str, AppRecord | None]]] = {}
        for app_id in dict.fromkeys(a for a in app_ids if _JOB_ID_RE.match(a)):
            record = self.records.get(app_id)
            options = self._options_of(record)
            key = tuple(getattr(options, k) for k in CONNECTION_KEYS)
            groups.setdefault(key, []).append((app_id, record))
        found: dict[str, SlurmApp] = {}
        for members in groups.values():
            options = self._options_of(members[0][1])
            via = transport or self.transport(options)
            found.update(self._ask(via, dict(members), options.host))
        return found

    def _ask(
        self, transport: Transport, members: dict[str, AppRecord | None], host: str
    ) -> dict[str, SlurmApp]:
        """One status round trip to one cluster: squeue, sacct and the known job dirs."""
        dirs = {a: r.job_dir for a, r in members.items() if r is not None and r.job_dir}
        done = transport.run(status_command(list(members), dirs), rerun_on_drop=True)
        try:
            user, by_id, dir_states = parse_status_output(done.stdout)
        except ControllerUnavailable as err:
            raise _squeue_error(err, done.stderr, host) from None
        except (ValueError, KeyError) as err:
            detail = _first_line(done.stderr) if done.stderr.strip() else str(err)
            raise BackendError(f"unreadable squeue output: {detail}", scheduler="slurm") from None
        out = {}
        for app_id, record in members.items():
            jobs = [j for j in by_id.get(app_id, []) if j.user == user]
            tag = jobs[0].comment if jobs and jobs[0].session() else ""
            if jobs and not tag and record is None:
                continue  # not a job of ours
            if tag and job_tag(jobs[0])[0] != self.session:
                continue
            if not jobs and record is None:
                continue
            tag = tag or (record.tag if record else "")
            out[app_id] = SlurmApp(app_id, jobs, tag, dir_states.get(app_id))
        return out

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
            from torchrun_core.schedulers.slurm.workspace import sync_workspace

            assert request.workspace_cache is not None
            sync_workspace(transport, request.workspace, request.workspace_cache)
        done = transport.run(request.command, request.script.encode())
        out = done.stdout.strip().splitlines() or [""]
        job_id = out[0].split(";")[0]
        job_dir = out[1].strip() if len(out) > 1 and out[1].startswith("/") else request.job_dir
        if done.returncode != 0 or not _JOB_ID_RE.match(job_id):
            raise BackendError(
                f"sbatch failed (exit {done.returncode}): "
                f"{_first_line(done.stderr or done.stdout)}",
                hint="see the script with: torchrun-core dryrun -s slurm ...",
                scheduler="slurm",
            )
        # Always kept, so that any later process asks the cluster it went to.
        target = request.options.model_dump(include=set(CONNECTION_KEYS))
        record = AppRecord(target, job_dir, request.tag, dryrun_info.app.name)
        self.records.save(job_id, record)
        return job_id

    # -- observation ----------------------------------------------------------
    def _describe(self, app_id: str) -> AppStatus | None:
        return self._describe_many([app_id]).get(app_id)

    def _describe_many(self, app_ids: list[str]) -> dict[str, AppStatus | None]:
        """Statuses of ``app_ids``: one round trip per cluster, however many apps."""
        found = self.apps(app_ids)
        out: dict[str, AppStatus | None] = dict.fromkeys(app_ids)
        for app_id, app in found.items():
            out[app_id] = app_status(app, f"slurm://{self.session}/{app_id}")
        return out

    def _list(self) -> list[ListedApp]:
        """The session's apps squeue (or sacct) knows on the default cluster, and recorded ones."""
        done = self.transport().run(status_command([]), rerun_on_drop=True)
        try:
            _, by_id, _ = parse_status_output(done.stdout)
        except (ControllerUnavailable, ValueError, KeyError):
            by_id = {}
        tagged = [a for a, jobs in by_id.items() if job_tag(jobs[0])[0] == self.session]
        found = self.apps([*tagged, *self.records.ids()])
        listed = []
        for app_id, app in found.items():
            state, _ = resolved_state(app)
            name = app.jobs[0].name if app.jobs else ""
            listed.append(ListedApp(app_id, state, name))
        return sorted(listed, key=lambda a: int(a.app_id))

    # -- control ----------------------------------------------------------------
    def _cancel(self, app_id: str) -> None:
        self._stop(app_id, None)

    def _cancel_with_grace(self, app_id: str, grace_period: float) -> None:
        self._stop(app_id, grace_period)

    def _stop(self, app_id: str, grace_period: float | None) -> None:
        """Stop the app; returns once Slurm runs nothing of it any more (see control)."""
        from torchrun_core.schedulers.slurm.control import stop_app

        record, _, job_dir = self.locate(app_id)

        def is_live() -> bool:
            found = self.apps([app_id]).get(app_id)
            return found is not None and found.live

        stop_app(self.transport(self._options_of(record)), app_id, job_dir, grace_period, is_live)

    def _delete(self, app_id: str) -> None:
        """Remove the ended app's job dir on the cluster, and what this machine kept of it."""
        from torchrun_core.schedulers.slurm.control import remove_job_dir

        record, _, job_dir = self.locate(app_id)
        if job_dir:
            remove_job_dir(self.transport(self._options_of(record)), job_dir)
        self.records.forget(app_id)

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
        from torchrun_core.schedulers.slurm.logs import LogFollower

        record, app, job_dir = self.locate(app_id)
        roles = dict(job_tag_roles(app.tag)) if app else {}
        if role_name not in roles:
            raise InvalidInputError(f"app {app_id} has no role {role_name!r}; roles: {list(roles)}")
        if not 0 <= k < roles[role_name]:
            raise InvalidInputError(f"role {role_name!r} has no replica {k}")

        def is_done() -> bool:
            try:
                found = self.apps([app_id]).get(app_id)
            except SchedulerUnavailableError:
                return False  # the controller restarts: the job runs on, and so does the log
            return found is None or resolved_state(found)[0].is_terminal

        transport = self.transport(self._options_of(record))
        follower = LogFollower(transport, job_dir, role_name, k, streams, is_done=is_done)
        return follower.lines(should_tail)

    def locate(self, app_id: str) -> tuple[AppRecord | None, SlurmApp | None, str]:
        """The app's record, its state and its job dir ("" when unknown)."""
        record = self.records.get(app_id)
        app = self.apps([app_id]).get(app_id)
        job_dir = (record.job_dir if record else "") or (
            app.jobs[0].work_dir if app and app.jobs else ""
        )
        return record, app, job_dir

    def close(self) -> None:
        """Close every SSH connection."""
        with self._lock:
            for transport in self._transports.values():
                transport.close()
            self._transports.clear()


# squeue's words for a controller it cannot reach (an outage, worth waiting
# through) as opposed to a setup that cannot work (no squeue, no slurm.conf).
_OUTAGE_WORDS = ("contact slurm controller", "timed out", "refused", "connect failure")


def _squeue_error(err: ControllerUnavailable, stderr: str, host: str) -> BackendError:
    """The error for a status round trip whose squeue failed or reported errors."""
    failed = isinstance(err, SqueueFailed)
    if failed and not any(w in stderr.lower() for w in _OUTAGE_WORDS):
        missing = isinstance(err, SqueueFailed) and err.code == 127
        return BackendError(
            f"squeue failed on {host}: "
            + ("squeue is not installed there" if missing else _first_line(stderr)),
            hint="set the slurm host (and SSH options) to a Slurm login node: "
            "torchrun-core runopts slurm",
            scheduler="slurm",
        )
    return SchedulerUnavailableError(
        f"the slurm controller behind {host} does not answer: {err}"
        + (f" ({_first_line(stderr)})" if failed else ""),
        hint="status works again once slurmctld is back; wait keeps waiting meanwhile",
        scheduler="slurm",
    )


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else "(no output)"
