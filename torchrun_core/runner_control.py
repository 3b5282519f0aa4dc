"""The Runner's control calls: waiting for an app, and stopping it."""

from __future__ import annotations

import time
from contextlib import ExitStack

from torchrun_core.errors import AppNotFoundError
from torchrun_core.runner_base import RunnerBase
from torchrun_core.runner_calls import backend_errors, wait_timeout
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus

# wait() re-reads the state at least this often, in case a watcher misses an event.
MAX_WATCH_S = 5.0


class RunnerControl(RunnerBase):
    """``wait`` and ``cancel``."""

    def wait(
        self, handle: str | AppHandle, timeout: float | None = None, state: AppState | None = None
    ) -> AppStatus:
        """Block until the app reaches ``state`` (or a later one) or any terminal state.

        Woken by the scheduler's watcher, so it returns soon after the change.

        Raises:
            WaitTimeoutError: ``timeout`` seconds passed first.
            AppNotFoundError: the scheduler does not know the app.
        """
        with self._api("wait") as call:
            parsed, sched = self._target(call, handle)
            target = None if state is None else AppState(state)
            deadline = None if timeout is None else time.monotonic() + timeout
            with ExitStack() as stack:
                with backend_errors(parsed.scheduler, "watch"):
                    watcher = stack.enter_context(sched.watch(parsed.app_id))
                while True:
                    status = self._sync.found(parsed, sched)
                    if status.is_terminal or (target is not None and status.state >= target):
                        return status
                    left = MAX_WATCH_S if deadline is None else deadline - time.monotonic()
                    if left <= 0:
                        raise wait_timeout(parsed, status.state, timeout)
                    with backend_errors(parsed.scheduler, "watch"):
                        watcher.wait(min(left, MAX_WATCH_S))
        raise AssertionError("unreachable")  # pragma: no cover  (mypy: the loop returns)

    def cancel(self, handle: str | AppHandle) -> None:
        """Stop the app and record its new state. Cancelling a finished app does nothing.

        Raises:
            AppNotFoundError: the scheduler does not know the app.
        """
        with self._api("cancel") as call:
            parsed, sched = self._target(call, handle)
            self._sync.refresh(parsed, sched)  # so that an app that had ended stays so
            try:
                with backend_errors(parsed.scheduler, "cancel", parsed):
                    sched.cancel(parsed.app_id)
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
