"""Keeping the run store in step with what the schedulers report.

Every status the Runner reads from a scheduler goes through here, so that a
state change is recorded once, whichever call (status, wait, list, cancel)
noticed it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from torchrun_core.errors import InvalidInputError, TorchrunCoreError
from torchrun_core.runner import write_ahead
from torchrun_core.runner.calls import app_not_found, backend_errors
from torchrun_core.runstore import RunStore
from torchrun_core.runstore.record import RunRecord
from torchrun_core.scheduler import Scheduler
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import LIVE_STATES, AppState
from torchrun_core.specs.status import AppStatus


class StateSync:
    """Reads app statuses from schedulers and records their changes in the run store.

    Args:
        store: gives the run store (opened on first use).
        scheduler: gives scheduler ``name`` for ``session``.
    """

    def __init__(
        self, store: Callable[[], RunStore], scheduler: Callable[[str, str], Scheduler[Any]]
    ) -> None:
        self._store = store
        self._scheduler = scheduler

    def refresh(self, handle: AppHandle, sched: Scheduler[Any]) -> AppStatus | None:
        """The scheduler's status of ``handle`` (None if unknown), recorded when it changed.

        A run recorded but not yet answered for by its scheduler (being
        launched, or its launch interrupted) is resolved by
        :func:`~torchrun_core.runner.write_ahead.resolve` instead.
        """
        record = self.launching(handle)
        if record is not None:
            return write_ahead.resolve(
                self._store(), record, lambda: self.describe(handle, sched)[0]
            )
        status, observed_at = self.describe(handle, sched)
        if status is not None:
            self._store().record_state(str(handle), status.state, status.message, at=observed_at)
        return status

    def describe(self, handle: AppHandle, sched: Scheduler[Any]) -> tuple[AppStatus | None, float]:
        """The scheduler's status of ``handle`` and when it was asked (for stale-write checks)."""
        observed_at = time.time()
        with backend_errors(handle.scheduler, "describe"):
            status = sched.describe(handle.app_id)
        if status is not None:
            status.handle = str(handle)
        return status, observed_at

    def launching(self, handle: AppHandle) -> RunRecord | None:
        """The run's record while it carries a launch mark (see ``launch_mark``), else None."""
        record = self._store().get(str(handle))
        return record if record is not None and record.launch_json is not None else None

    def found(self, handle: AppHandle, sched: Scheduler[Any]) -> AppStatus:
        """The app's status; for an ended app its engine has forgotten, the recorded one."""
        status = self.refresh(handle, sched)
        if status is not None:
            return status
        record = self._store().get(str(handle))
        if record is None:
            raise app_not_found(handle)
        if not record.state.is_terminal:
            raise app_not_found(
                handle, f"{handle.scheduler} no longer knows it (last {record.state})"
            )
        events = self._store().events(str(handle))
        last = events[-1].message if events else None
        if last and last.startswith(write_ahead.NEVER_LAUNCHED):  # not "no longer": never
            return record.recorded_status(last)
        return record.recorded_status(f"as recorded; {handle.scheduler} no longer knows this app")

    def first_role(self, handle: AppHandle, sched: Scheduler[Any]) -> str:
        """The app's first role: from its recorded spec, else from the scheduler's status."""
        record = self._store().get(str(handle))
        if record is not None and record.app is not None:
            return record.app.roles[0].name
        status = self.found(handle, sched)
        if status.roles:
            return status.roles[0].role
        raise InvalidInputError(
            f"cannot tell the roles of app {handle}: it was not submitted from here",
            hint=f"name the role: torchrun-core log {handle}/ROLE",
            handle=str(handle),
        )

    def refresh_live(
        self,
        scheduler: str | None,
        since: float | None = None,
        *,
        records: Iterable[RunRecord] | None = None,
        failures: dict[str, str] | None = None,
    ) -> dict[str, AppStatus]:
        """Ask the schedulers about recorded runs not yet terminal; record changes at once.

        Only the live runs among ``records`` are asked when they are given
        (say, the rows of one page), else every live run of ``scheduler``
        created since ``since``. A scheduler that is uninstalled or failing is
        skipped (its runs keep their recorded state) unless ``scheduler``
        names it, then it raises; ``failures`` gets why (scheduler name ->
        error). A run its scheduler does not know keeps its recorded state and
        is left out of the answer. Runs with a launch mark are resolved one by
        one (see :meth:`refresh`).
        """
        if records is None:
            records = self._store().list(scheduler, LIVE_STATES, since)
        broken: dict[str, str] = {} if failures is None else failures
        groups: dict[tuple[str, str], list[RunRecord]] = {}
        out: dict[str, AppStatus] = {}
        for record in records:
            if record.launch_json is not None:
                self._resolve_into(out, record, scheduler, broken)
            elif not record.state.is_terminal:
                groups.setdefault((record.scheduler, record.session), []).append(record)
        seen: list[tuple[str, AppState, str | None, float | None]] = []
        for (name, session), members in groups.items():
            if name in broken:
                continue
            # One call per scheduler and session: an engine that answers for
            # many apps at once (squeue) is asked once for the whole page.
            observed_at = time.time()
            try:
                with backend_errors(name, "describe"):
                    found = self._scheduler(name, session).describe_many(
                        [r.app_id for r in members]
                    )
            except TorchrunCoreError as err:
                if scheduler is not None:
                    raise
                broken[name] = str(err)  # one failure per scheduler is enough
                continue
            for record in members:
                status = found.get(record.app_id)
                if status is not None:
                    status.handle = record.handle
                    out[record.handle] = status
                    seen.append((record.handle, status.state, status.message, observed_at))
        self._store().record_states(seen)  # one transaction for the whole pass
        return out

    def _resolve_into(
        self,
        out: dict[str, AppStatus],
        record: RunRecord,
        named: str | None,
        broken: dict[str, str],
    ) -> None:
        """Resolve one marked run into ``out``; a failing scheduler goes into ``broken``."""
        if record.scheduler in broken:
            return
        handle = AppHandle(record.scheduler, record.session, record.app_id)
        try:
            sched = self._scheduler(record.scheduler, record.session)
            out[record.handle] = write_ahead.resolve(
                self._store(), record, lambda: self.describe(handle, sched)[0]
            )
        except TorchrunCoreError as err:
            if named is not None:
                raise
            broken[record.scheduler] = str(err)
