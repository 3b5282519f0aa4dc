"""Observation: an app's status, its record, and its log lines."""

from __future__ import annotations

from collections.abc import Iterator

from torchrun_core.errors import AppNotFoundError, TorchrunCoreError
from torchrun_core.runner import write_ahead
from torchrun_core.runner.base import RunnerBase
from torchrun_core.runner.calls import app_not_found, backend_errors
from torchrun_core.runstore.record import RunRecord
from torchrun_core.scheduler import Stream
from torchrun_core.specs.handle import AppHandle, parse_handle
from torchrun_core.specs.status import AppStatus


class RunnerObservation(RunnerBase):
    """What is known of a run: its status, its record and its logs."""

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
