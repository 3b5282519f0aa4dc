"""The Runner's control calls: waiting for an app, stopping apps, and deleting them."""

from __future__ import annotations

import builtins
import contextlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from torchrun_core.errors import (
    AppNotFoundError,
    BackendError,
    InvalidInputError,
    InvalidOptionError,
    SchedulerUnavailableError,
    UnexpectedStateError,
    UnknownSchedulerError,
)
from torchrun_core.limits import check_grace_period, check_timeout
from torchrun_core.runner import write_ahead
from torchrun_core.runner.base import RunnerBase
from torchrun_core.runner.calls import backend_errors, wait_timeout
from torchrun_core.runner.outage import OutageBackoff
from torchrun_core.scheduler import Scheduler, Watcher
from torchrun_core.specs.handle import AppHandle, parse_handle
from torchrun_core.specs.state import LIVE_STATES, AppState
from torchrun_core.specs.status import AppStatus

# wait() re-reads the state at least this often, in case a watcher misses an event.
MAX_WATCH_S = 5.0
# cancel_many stops at most this many apps at once by default: each cancel
# mostly waits (for a grace period, an engine's answer), so threads suffice.
CANCEL_WORKERS = 8


@dataclass
class ControlOutcome:
    """What a cancel or delete did to one app.

    Attributes:
        handle: the app.
        state: its recorded state afterwards (None once deleted, or unknown).
        error: why the call failed for this app; None when it worked.
        note: what the caller should know although it worked (e.g. only the
            record was deleted).
    """

    handle: str
    state: AppState | None = None
    error: Exception | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


class RunnerControl(RunnerBase):
    """``wait``, ``cancel``, ``cancel_many`` and ``delete``."""

    def wait(
        self, handle: str | AppHandle, timeout: float | None = None, state: AppState | None = None
    ) -> AppStatus:
        """Block until the app reaches ``state`` (or a later one), or, without it, until it ends.

        Woken by the scheduler's watcher, so it returns soon after the change.
        RUNNING counts as reached by an app that has SUCCEEDED since; a
        failure never reaches anything but itself. An engine that cannot be
        reached (a controller restart) is asked again with backoff, for up to
        :data:`~torchrun_core.runner.outage.OUTAGE_LIMIT_S` seconds of continuous
        outage, and its watcher is opened anew.

        Raises:
            UnexpectedStateError: with ``state``, the app ended without reaching
                it (FAILED, CANCELLED, or another terminal state than the one
                awaited); it carries ``handle``, ``state`` (the one it ended
                in), ``target`` and ``status``.
            WaitTimeoutError: ``timeout`` seconds passed first.
            InvalidInputError: an unknown ``state``, or a NaN or negative
                ``timeout`` (infinity is no timeout).
            AppNotFoundError: the scheduler does not know the app.
            SchedulerUnavailableError: the engine did not answer for
                ``OUTAGE_LIMIT_S`` seconds, or until ``timeout``.
        """
        with self._api("wait") as call:
            parsed, sched = self._target(call, handle)
            # parse, not AppState(): an unknown name is bad input, not a raw ValueError
            target = None if state is None else AppState.parse(str(state))
            timeout = check_timeout(timeout)
            deadline = None if timeout is None else time.monotonic() + timeout
            outage = OutageBackoff()
            if self._sync.launching(parsed) is not None:  # before a watcher takes its app id
                self._check_launch(parsed, self._sync.found(parsed, sched), "wait for", False)
            with _WatchSlot(parsed, sched) as slot:
                while True:
                    try:
                        watcher = slot.watcher()
                        status = self._sync.found(parsed, sched)
                    except SchedulerUnavailableError as err:
                        # A controller restart: the app runs on; ask again later.
                        slot.drop()
                        _sleep_within(outage.failed(err), deadline, err)
                        continue
                    outage.succeeded()
                    if target is not None and reached(status.state, target):
                        return status
                    if status.is_terminal:
                        if target is not None:
                            raise not_reached(parsed, status, target)
                        return status
                    left = MAX_WATCH_S if deadline is None else deadline - time.monotonic()
                    if left <= 0:
                        raise wait_timeout(parsed, status.state, timeout)
                    try:
                        with backend_errors(parsed.scheduler, "watch"):
                            watcher.wait(min(left, MAX_WATCH_S))
                    except SchedulerUnavailableError:
                        slot.drop()  # the next pass re-reads the state and watches anew
        raise AssertionError("unreachable")  # pragma: no cover  (mypy: the loop returns)

    def cancel(self, handle: str | AppHandle, grace_period: float | None = None) -> None:
        """Stop the app and record its new state. Cancelling a finished app does nothing.

        ``grace_period`` (seconds between the polite stop and the kill)
        overrides the app's own for this cancel where the scheduler supports
        it (all four builtins: it can shorten a stop, never lengthen it);
        other plugins stop the app their usual way.

        Raises:
            AppNotFoundError: the scheduler does not know the app.
            InvalidInputError: ``grace_period`` is negative or not finite.
        """
        check_grace_period(grace_period)
        with self._api("cancel") as call:
            parsed, sched = self._target(call, handle)
            self._cancel_app(parsed, sched, grace_period)

    def _cancel_app(self, parsed: AppHandle, sched: Scheduler[Any], grace: float | None) -> None:
        status = self._sync.refresh(parsed, sched)  # so that an app that had ended stays so
        self._check_launch(parsed, status, "cancel")
        try:
            with backend_errors(parsed.scheduler, "cancel", parsed):
                if grace is None:  # the one-argument call: plugins overriding cancel() take it
                    sched.cancel(parsed.app_id)
                else:
                    sched.cancel(parsed.app_id, grace)
        except AppNotFoundError:
            if self._sync.found(parsed, sched).is_terminal:
                return  # ended, and forgotten by its engine since: nothing to stop
            raise
        if self._sync.refresh(parsed, sched) is None:
            # The engine removed the app as it stopped it (docker removes the
            # containers): record the cancel, or a later status finds nothing.
            self.store.record_state(
                str(parsed), AppState.CANCELLED, f"cancelled; {parsed.scheduler} removed it"
            )

    def _check_launch(
        self, parsed: AppHandle, status: AppStatus | None, action: str, in_flight: bool = True
    ) -> None:
        """Raise when the app has no scheduler's id, or (``in_flight``) is being launched.

        An interrupted launch with an id is settled by the refresh before this
        (it reads as what its scheduler says).
        """
        if status is not None and status.state in (AppState.UNSUBMITTED, AppState.UNKNOWN):
            record = self._sync.launching(parsed)  # only then: the common case reads nothing
            write_ahead.check_actionable(record, parsed, action, in_flight)

    def cancel_many(
        self,
        handles: Sequence[str | AppHandle] | None = None,
        *,
        scheduler: str | None = None,
        states: Sequence[AppState] | None = None,
        since: float | None = None,
        until: float | None = None,
        name: str | None = None,
        parent: str | AppHandle | None = None,
        every: bool = False,
        grace_period: float | None = None,
        max_workers: int = CANCEL_WORKERS,
    ) -> builtins.list[ControlOutcome]:
        """Cancel ``handles``, or the live recorded runs a filter selects, in parallel.

        The filter form (no ``handles``) selects recorded runs not yet
        terminal, with the filters of :meth:`list`: ``scheduler``, ``states``
        (intersected with the live states), ``since``/``until`` (creation
        time), ``name`` (an ILIKE pattern) and ``parent``. A filter naming
        nothing would cancel every live run, so it needs ``every=True``. At
        most ``max_workers`` cancels run at once; one failing does not stop
        the others.

        Returns:
            One outcome per app, in the order of ``handles`` (or newest first).

        Raises:
            InvalidInputError: both handles and a filter, an empty filter
                without ``every``, or a bad ``grace_period``/``max_workers``.
        """
        check_grace_period(grace_period)
        if max_workers < 1:
            raise InvalidInputError(f"max_workers must be at least 1, not {max_workers}")
        filters: dict[str, Any] = {"scheduler": scheduler, "states": states, "since": since}
        filters.update(until=until, name=name, parent=parent)
        with self._api("cancel_many", scheduler):
            targets = self._cancel_targets(handles, filters, every)
            if not targets:
                return []
            with ThreadPoolExecutor(min(max_workers, len(targets))) as pool:
                return builtins.list(
                    pool.map(lambda h: self._cancel_outcome(h, grace_period), targets)
                )

    def _cancel_targets(
        self,
        handles: Sequence[str | AppHandle] | None,
        filters: dict[str, Any],
        every: bool,
    ) -> builtins.list[str | AppHandle]:
        filtered = any(v is not None for v in filters.values())
        if handles is not None:
            if filtered or every:
                raise InvalidInputError(
                    "cancel either the given handles or the runs a filter selects, not both"
                )
            return builtins.list(handles)
        if not filtered and not every:
            raise InvalidInputError(
                "no handle and no filter: that would cancel every live run",
                hint="name handles or a filter, or say every=True (the CLI's --all)",
            )
        states = filters.pop("states")
        live = [s for s in LIVE_STATES if states is None or s in set(states)]
        if not live:
            return []
        if filters["parent"] is not None:  # as list() takes it: a handle, checked
            filters["parent"] = str(parse_handle(filters["parent"]))
        return [r.handle for r in self.store.list(states=live, **filters)]

    def _cancel_outcome(self, handle: str | AppHandle, grace: float | None) -> ControlOutcome:
        try:
            self.cancel(handle, grace)
        except Exception as err:  # reported per app: the others go on
            return ControlOutcome(str(handle), error=err)
        return ControlOutcome(str(handle), state=self.store.state(str(parse_handle(handle))))

    def delete(
        self, handle: str | AppHandle, grace_period: float | None = None, force: bool = False
    ) -> ControlOutcome:
        """Stop the app if it runs, remove what its scheduler keeps of it, then forget its record.

        What the scheduler removes depends on it (local: the app's dir and
        logs; docker: containers, network and local files). An app its engine
        has forgotten already only loses its record.

        Args:
            force: when the scheduler cannot be asked (its plugin is not
                installed, its engine fails, or its connection settings
                cannot work), forget the record anyway;
                whatever the engine still runs or keeps is left there, and the
                outcome's ``note`` says so.

        Raises:
            AppNotFoundError: neither the store nor the scheduler knows the app.
            UnknownSchedulerError, InvalidOptionError, BackendError: the
                scheduler cannot be asked (without ``force``).
        """
        check_grace_period(grace_period)
        with self._api("delete") as call:
            parsed = call.target(parse_handle(handle))
            key = str(parsed)
            record = self.store.get(key)
            known = record is not None
            if record is not None and record.launch is not None:
                if record.launch.in_flight():
                    raise write_ahead.not_launched(parsed, record, "delete")
                if not record.launch.id_known:  # no id to ask its scheduler about
                    self.store.delete(key)
                    return ControlOutcome(
                        key, note=f"forgot the record only: {parsed.scheduler} never gave it an id"
                    )
            try:
                self._delete_on_scheduler(parsed, grace_period, known)
            # InvalidOptionError: settings the engine cannot be reached with (an
            # SSH key file gone or unreadable) must not pin the record either.
            except (UnknownSchedulerError, InvalidOptionError, BackendError) as err:
                if not known:
                    raise
                if not force:
                    err.hint = f"to forget its record anyway: torchrun-core delete --force {key}"
                    raise
                self.store.delete(key)
                return ControlOutcome(
                    key, note=f"forgot the record only; {parsed.scheduler} was not cleaned: {err}"
                )
            self.store.delete(key)
            return ControlOutcome(key)

    def _delete_on_scheduler(self, parsed: AppHandle, grace: float | None, known: bool) -> None:
        sched = self.scheduler(parsed.scheduler, parsed.session)
        try:
            with backend_errors(parsed.scheduler, "delete", parsed):
                sched.delete(parsed.app_id, grace)
        except AppNotFoundError:
            if not known:
                raise  # neither the engine nor the store knows it


class _WatchSlot:
    """The scheduler's watcher for one app, opened on demand and reopened after an outage."""

    def __init__(self, handle: AppHandle, sched: Scheduler[Any]) -> None:
        self._handle = handle
        self._sched = sched
        self._stack: ExitStack | None = None
        self._watcher: Watcher | None = None

    def watcher(self) -> Watcher:
        """The open watcher, entering ``sched.watch`` first when none is open."""
        if self._watcher is None:
            stack = ExitStack()
            try:
                with backend_errors(self._handle.scheduler, "watch"):
                    self._watcher = stack.enter_context(self._sched.watch(self._handle.app_id))
            except BaseException:
                stack.close()
                raise
            self._stack = stack
        return self._watcher

    def drop(self) -> None:
        """Close the watcher (its stream may be broken); the next call opens a new one."""
        stack, self._stack, self._watcher = self._stack, None, None
        if stack is not None:
            # Closing a broken stream may fail too: it is gone either way.
            with contextlib.suppress(Exception):
                stack.close()

    def __enter__(self) -> _WatchSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()


def _sleep_within(delay: float, deadline: float | None, err: SchedulerUnavailableError) -> None:
    """Sleep ``delay`` s before the next try, but raise ``err`` if the deadline comes first."""
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise err
        delay = min(delay, left)
    time.sleep(delay)


def reached(state: AppState, target: AppState) -> bool:
    """Whether an app in ``state`` has reached ``target`` (or gone past it without failing)."""
    if state is target:
        return True
    if state in (AppState.FAILED, AppState.CANCELLED) or target.is_terminal:
        return False  # ending badly (or differently) never satisfies the wait
    return state >= target


def not_reached(handle: AppHandle, status: AppStatus, target: AppState) -> UnexpectedStateError:
    """The error for an app that ended in ``status`` without reaching ``target``."""
    summary = status.failure_summary()
    where = f": {summary}" if summary else ""
    # The scheduler's message often says the same as ``where``: add it only when it does not.
    detail = f" ({status.message})" if status.message and not where else ""
    return UnexpectedStateError(
        f"app {handle} ended {status.state} before reaching {target}{where}{detail}",
        hint=f"see the logs: torchrun-core log {handle}",
        handle=str(handle),
        state=status.state,
        target=target,
        status=status,
    )
