"""The Runner: submit, observe and control apps on any scheduler, remembering every run.

A Runner is a session (its ``name``) over the installed scheduler plugins and
the run store. Every submitted app is recorded in the store with its spec,
options and state history, so that ``status``, ``wait``, ``log_lines``,
``cancel`` and ``list`` work from any process. Each public call fires the
observe-only ``torchrun_core_on_event`` hook, also when it fails.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from torchrun_core import tracker_env, write_ahead
from torchrun_core.errors import AppNotFoundError, TorchrunCoreError
from torchrun_core.run_record import RunRecord
from torchrun_core.runner_bulk import RunnerBulk
from torchrun_core.runner_calls import (
    ApiCall,
    app_not_found,
    backend_errors,
)
from torchrun_core.runner_control import MAX_WATCH_S, RunnerControl
from torchrun_core.runner_queries import RunnerQueries
from torchrun_core.runner_rerun import RunnerRerun
from torchrun_core.runner_tracking import RunnerTracking
from torchrun_core.scheduler import Stream
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.handle import AppHandle, parse_handle
from torchrun_core.specs.status import AppStatus
from torchrun_core.workspace import build_workspace


class Runner(RunnerBulk, RunnerRerun, RunnerTracking, RunnerControl, RunnerQueries):
    """Runs apps on scheduler plugins and records them in a :class:`RunStore`.

    Constructed like :class:`~torchrun_core.runner_base.RunnerBase` (session
    name, store, registry, scheduler params, tracker config). This class adds
    submission and observation; the mixins add queries, control, re-runs,
    tracking read-back, futures and bulk submission.
    """

    # -- submission ---------------------------------------------------------
    def dryrun(
        self,
        app: AppDef,
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        workspace: str | None = None,
    ) -> AppDryRunInfo[Any]:
        """The scheduler-native request for ``app``, with the tracker env in every role.

        With ``workspace`` (a directory), the scheduler's workspace builder
        first turns it into the roles' image (docker: builds it).
        """
        with self._api("dryrun", scheduler):
            return self._dryrun(app, scheduler, cfg, parent_run_id, workspace)

    def _dryrun(
        self,
        app: AppDef,
        scheduler: str,
        cfg: Mapping[str, Any] | None,
        parent: str | None,
        workspace: str | None = None,
    ) -> AppDryRunInfo[Any]:
        sched = self.scheduler(scheduler)
        if workspace is not None:
            app = build_workspace(self.registry, sched, app, workspace, cfg)
        trackers = tracker_env.resolve_trackers(self._tracker_config)
        with backend_errors(scheduler, "dryrun"):
            app, trackers, notes = tracker_env.place_file_tracker(sched, app, cfg, trackers)
        env = tracker_env.tracker_env(
            scheduler, sched.session, tracker_env.resolve_parent_run_id(parent), trackers
        )
        app = tracker_env.inject_env(app, env)
        with backend_errors(scheduler, "dryrun"):
            info = sched.dryrun(app, cfg)
        info.notes.extend(notes)
        return info

    def schedule(self, dryrun_info: AppDryRunInfo[Any]) -> AppHandle:
        """Record the run, then submit exactly ``dryrun_info``; returns its handle.

        The run is recorded before anything is launched: when the run store
        cannot be written, nothing runs.

        Raises:
            BackendError: the run could not be recorded (nothing was
                launched), or the scheduler failed to launch it.
        """
        with self._api("schedule", dryrun_info.scheduler) as call:
            return self._schedule(call, dryrun_info)

    def _schedule(self, call: ApiCall, info: AppDryRunInfo[Any]) -> AppHandle:
        # Write-ahead (torchrun_core.write_ahead): an app that cannot be recorded
        # is never launched, and a crash mid-launch leaves a record to resolve.
        sched = self.scheduler(info.scheduler, info.session or None)
        return write_ahead.submit(self.store, sched, info, call.target)

    def run(
        self,
        app: AppDef,
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        workspace: str | None = None,
    ) -> AppHandle:
        """Dry-run then schedule ``app``; returns its handle."""
        with self._api("run", scheduler) as call:
            info = self._dryrun(app, scheduler, cfg, parent_run_id, workspace)
            return self._schedule(call, info)

    def dryrun_component(
        self,
        component: str,
        component_args: Sequence[str] = (),
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        workspace: str | None = None,
    ) -> AppDryRunInfo[Any]:
        """Build the app from ``component`` with ``component_args``, then dry-run it."""
        with self._api("dryrun_component", scheduler):
            app = self._build(component, component_args)
            return self._dryrun(app, scheduler, cfg, parent_run_id, workspace)

    def run_component(
        self,
        component: str,
        component_args: Sequence[str] = (),
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        workspace: str | None = None,
    ) -> AppHandle:
        """Build the app from ``component`` with ``component_args``, then run it."""
        with self._api("run_component", scheduler) as call:
            app = self._build(component, component_args)
            info = self._dryrun(app, scheduler, cfg, parent_run_id, workspace)
            return self._schedule(call, info)

    def _build(self, component: str, args: Sequence[str]) -> AppDef:
        from torchrun_core.component_loader import build_app

        return build_app(component, list(args), self.registry)

    # -- observation --------------------------------------------------------
    def status(self, handle: str | AppHandle) -> AppStatus:
        """The app's current status, recorded in the store when it changed.

        Raises:
            AppNotFoundError: the scheduler does not know the app.
        """
        with self._api("status") as call:
            return self._sync.found(*self._target(call, handle))

    def describe(self, handle: str | AppHandle) -> RunRecord:
        """Everything known about the app: its record in the store and the scheduler's status.

        When the scheduler cannot be asked (its engine fails or is down, its
        plugin is not installed), the record comes back with ``status`` None
        and ``stale`` saying why.

        Raises:
            AppNotFoundError: neither the store nor the scheduler knows it.
        """
        with self._api("describe") as call:
            parsed = call.target(parse_handle(handle))
            stale = None
            try:
                status = self._sync.refresh(
                    parsed, self.scheduler(parsed.scheduler, parsed.session)
                )
            except AppNotFoundError:
                raise
            except TorchrunCoreError as err:
                # Plugin uninstalled, engine down: a recorded run still stands, marked stale.
                if self.store.state(str(parsed)) is None:
                    raise
                status, stale = None, f"{parsed.scheduler} could not be asked: {err}"
            record = self.store.get(str(parsed))
            if record is None:
                if status is None:
                    raise app_not_found(parsed)
                record = RunRecord(
                    str(parsed), parsed.scheduler, parsed.session, parsed.app_id, "",
                    status.state, status.created_at,
                )  # fmt: skip
            record.status, record.stale = status, stale
            return record

    def log_lines(
        self,
        handle: str | AppHandle,
        role_name: str | None = None,
        k: int = 0,
        regex: str | None = None,
        since: float | None = None,
        until: float | None = None,
        should_tail: bool = False,
        streams: Stream | None = None,
        attempt: int | None = None,
    ) -> Iterator[str]:
        """Whole lines (with their newline) of replica ``k`` of a role; the first role by default.

        The scheduler's own iterator is returned, so that reading costs
        nothing here; the app, role and regex are checked before it is.

        Raises:
            AppNotFoundError: the app is unknown.
            InvalidInputError: the role, replica or regex is invalid.
        """
        with self._api("log_lines") as call:
            parsed, sched = self._target(call, handle)
            marked = self._sync.launching(parsed)
            if marked is not None and marked.launch is not None and not marked.launch.id_known:
                raise write_ahead.not_launched(parsed, marked, "read the logs of")
            role = role_name or self._sync.first_role(parsed, sched)
            with backend_errors(parsed.scheduler, "log_iter", parsed):
                return sched.log_iter(
                    parsed.app_id, role, k, regex, since, until, should_tail, streams, attempt
                )


def get_runner(name: str = "default", **kwargs: Any) -> Runner:
    """A :class:`Runner` for session ``name``; use it as a context manager to close it."""
    return Runner(name, **kwargs)


__all__ = ["MAX_WATCH_S", "Runner", "get_runner"]
