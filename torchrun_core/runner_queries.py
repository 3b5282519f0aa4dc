"""The Runner's queries over the run store: which runs exist, and what happened to each."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from torchrun_core.run_record import RunEvent, RunRecord
from torchrun_core.runner_base import RunnerBase
from torchrun_core.runner_calls import app_not_found
from torchrun_core.specs.handle import AppHandle, parse_handle
from torchrun_core.specs.state import AppState


class RunnerQueries(RunnerBase):
    """``list`` and ``events``: answered from the run store, across every scheduler."""

    def list(
        self,
        scheduler: str | None = None,
        states: Sequence[AppState] | None = None,
        since: float | None = None,
        limit: int | None = None,
    ) -> builtins.list[RunRecord]:
        """Recorded runs, newest first, after refreshing every run not yet terminal.

        Runs whose scheduler is uninstalled or unreachable keep their recorded
        state when listing every scheduler; naming ``scheduler`` raises instead.
        """
        with self._api("list", scheduler):
            refreshed = self._sync.refresh_live(scheduler, since)
            records = self.store.list(scheduler, states, since, limit)
            for record in records:
                record.status = refreshed.get(record.handle)
            return records

    def events(self, handle: str | AppHandle) -> builtins.list[RunEvent]:
        """The run's recorded state changes, oldest first.

        Raises:
            AppNotFoundError: the store has no such run.
        """
        with self._api("events") as call:
            parsed = call.target(parse_handle(handle))
            found = self.store.events(str(parsed))
            if not found:
                raise app_not_found(parsed)
            return found
