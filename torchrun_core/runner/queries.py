"""The Runner's queries over the run store: which runs exist, and what happened to each."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence

from torchrun_core.errors import InvalidInputError
from torchrun_core.limits import check_store_int
from torchrun_core.runner.base import RunnerBase
from torchrun_core.runner.calls import app_not_found
from torchrun_core.runstore.query import RunQuery
from torchrun_core.runstore.record import RunEvent, RunPage, RunRecord
from torchrun_core.specs.handle import AppHandle, parse_handle
from torchrun_core.specs.state import LIVE_STATES, AppState

# Rows read from the store per round trip (at least) while looking for a state filter's matches.
_CHUNK_ROWS = 64


class RunnerQueries(RunnerBase):
    """``list`` and ``events``: answered from the run store, across every scheduler."""

    def list(
        self,
        scheduler: str | None = None,
        states: Sequence[AppState] | None = None,
        since: float | None = None,
        limit: int | None = None,
        *,
        until: float | None = None,
        name: str | None = None,
        parent: str | AppHandle | None = None,
        sort: str = "newest",
        cursor: str | None = None,
    ) -> RunPage:
        """Recorded runs matching every filter, one page in ``sort`` order, with fresh states.

        The filters are those of :meth:`RunStore.list
        <torchrun_core.runstore.RunStore.list>`; ``parent`` may be a handle.
        Only the runs that can be on the page are asked about: the page's
        runs not yet terminal, and with ``states``, the live runs before the
        page's end, whose new state decides whether they belong on it. So a
        listing costs the same in a store of a hundred or a million runs.
        Runs whose scheduler is uninstalled or unreachable keep their recorded
        state when no ``scheduler`` is named, with ``stale`` saying why;
        naming it raises instead.

        Returns:
            A list of records; its ``next_cursor`` gives the next page (None
            on the last one).

        Raises:
            InvalidInputError: a limit outside 0 to ``MAX_STORE_INT``
                (:mod:`torchrun_core.limits`), an unknown state, a malformed
                cursor, parent handle or name pattern, or an unknown sort.
        """
        with self._api("list", scheduler):
            if limit is not None:
                check_store_int(limit, "limit", "0 lists them all")
            query = RunQuery.build(
                scheduler=scheduler, states=_states(states), name=name,
                since=_time(since, "since"), until=_time(until, "until"),
                parent=None if parent is None else str(parse_handle(parent)),
                sort=sort, cursor=cursor,
            )  # fmt: skip
            if query.states is None:  # a state change cannot move a run off this page
                page = self.store.page(query, limit)
                self._refresh(page, scheduler)
                return page
            return self._fresh_matches(query, limit, scheduler)

    def _fresh_matches(self, query: RunQuery, limit: int | None, scheduler: str | None) -> RunPage:
        """The page of ``query``'s state filter, judged on fresh states.

        The candidates are the runs recorded in a wanted state or still live
        (a live run may have reached a wanted state since last seen). They are
        read in sort order and refreshed a slice at a time, a slice never
        longer than the matches still missing, so no run after the first
        match past the page (which says whether a next page exists) is asked
        about.
        """
        wanted = set(query.states or ())
        if limit == 0 or not wanted:
            return RunPage()
        candidates = query.with_states(sorted(wanted | set(LIVE_STATES)))
        enough = None if limit is None else limit + 1  # one more tells whether a next page exists
        found: builtins.list[RunRecord] = []
        while enough is None or len(found) < enough:
            missing = None if enough is None else max(_CHUNK_ROWS, enough - len(found))
            chunk = self.store.page(candidates, missing)
            rows = builtins.list(chunk)
            while rows and (enough is None or len(found) < enough):
                size = len(rows) if enough is None else enough - len(found)
                batch, rows = rows[:size], rows[size:]
                self._refresh(batch, scheduler)
                found += [r for r in batch if r.state in wanted]
            if chunk.next_cursor is None:
                break
            candidates = candidates.starting_after(chunk[-1])
        if enough is None or len(found) < enough:
            return RunPage(found)
        del found[enough - 1 :]
        return RunPage(found, query.cursor_of(found[-1]))

    def _refresh(self, records: Sequence[RunRecord], scheduler: str | None) -> None:
        """Ask the schedulers about ``records`` not yet terminal and update them in place.

        A record whose scheduler could not be asked keeps its recorded state,
        and its ``stale`` says why.
        """
        failures: dict[str, str] = {}
        fresh = self._sync.refresh_live(scheduler, records=records, failures=failures)
        for record in records:
            status = fresh.get(record.handle)
            if status is not None:
                record.status = status
                if status.state is not AppState.UNKNOWN:
                    record.state = status.state
            elif record.scheduler in failures and not record.state.is_terminal:
                record.stale = (
                    f"{record.scheduler} could not be asked: {failures[record.scheduler]}"
                )

    def events(self, handle: str | AppHandle, after: int | None = None) -> builtins.list[RunEvent]:
        """The run's recorded state changes, oldest first, each with its sequence number.

        Args:
            after: only the events with a greater ``seq`` (the last one seen),
                to read on without repeats.

        Raises:
            AppNotFoundError: the store has no such run.
            InvalidInputError: ``after`` outside 0 to ``MAX_STORE_INT``.
        """
        with self._api("events") as call:
            parsed = call.target(parse_handle(handle))
            if after is not None:
                check_store_int(after, "after", "pass the seq of the last event seen")
            found = self.store.events(str(parsed), after)
            if not found and self.store.state(str(parsed)) is None:
                raise app_not_found(parsed)
            return found


def _states(states: Sequence[AppState | str] | None) -> builtins.list[AppState] | None:
    """``states`` as AppStates; an unknown name is InvalidInputError naming the known ones."""
    if states is None:
        return None
    if isinstance(states, str):  # one state, not its letters
        states = [states]
    return [AppState.parse(str(s)) for s in states]


def _time(value: float | None, what: str) -> float | None:
    """``value`` as a finite float: the store compares times as REALs, and an int may overflow."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except (OverflowError, TypeError, ValueError):
        seconds = math.inf
    if not math.isfinite(seconds):
        raise InvalidInputError(
            f"{what} must be a finite unix time, not {value!r}", hint="give unix seconds"
        )
    return seconds
