"""Submission: dryrun, schedule and run an app or a component; the Runner's bottom layer.

The other parts of the Runner that submit (``rerun``, ``bulk``) build on this
class, so they call ``run`` and ``_schedule`` as their own methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torchrun_core.runner import write_ahead
from torchrun_core.runner.base import RunnerBase
from torchrun_core.runner.calls import ApiCall, backend_errors
from torchrun_core.runner.workspace import plan_workspace, realize_workspace
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.handle import AppHandle
from torchrun_core.tracking import env as tracker_env


class RunnerSubmission(RunnerBase):
    """Turns an AppDef (or a component and its arguments) into a recorded, launched run."""

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
        plans the roles' image; nothing is built or pushed until ``schedule``.
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
        plan = None
        if workspace is not None:  # planned only: schedule builds and pushes (realize)
            plan = plan_workspace(self.registry, sched, app, workspace, cfg)
            app = plan.app
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
        if plan is not None:
            info.notes.extend(plan.notes)
            info.pending_build = plan.realize
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
        # Write-ahead (torchrun_core.runner.write_ahead): an app that cannot be recorded
        # is never launched, and a crash mid-launch leaves a record to resolve.
        sched = self.scheduler(info.scheduler, info.session or None)
        if info.pending_build is not None:
            # The workspace was only planned: build and push it, then submit a dry
            # run of the app that runs it (pinned by digest).
            built = realize_workspace(sched, info.pending_build, info.app)
            with backend_errors(info.scheduler, "dryrun"):
                notes, info = info.notes, sched.dryrun(built, info.cfg)
            info.notes[:0] = notes
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
        from torchrun_core.component_loading.loader import build_app

        return build_app(component, list(args), self.registry)
