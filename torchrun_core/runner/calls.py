"""How each Runner API call is observed and how scheduler failures are translated.

Every public Runner call runs inside :func:`observed`, which fires one
``torchrun_core_on_event`` event when the call ends, error included; every
call into a scheduler runs inside :func:`backend_errors`, so that an
engine's raw exception reaches the caller as a :class:`BackendError` naming
the scheduler and the operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torchrun_core.errors import (
    AppNotFoundError,
    BackendError,
    TorchrunCoreError,
    WaitTimeoutError,
)
from torchrun_core.hookspecs import RunnerEvent
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState


class ApiCall:
    """What one API call learned about its target, for the event it fires."""

    __slots__ = ("app_id", "handle", "scheduler")

    def __init__(self, scheduler: str | None) -> None:
        self.scheduler = scheduler
        self.app_id: str | None = None
        self.handle: str | None = None

    def target(self, handle: AppHandle) -> AppHandle:
        """Note ``handle`` as the call's target; returns it."""
        self.scheduler, self.app_id, self.handle = handle.scheduler, handle.app_id, str(handle)
        return handle


@contextmanager
def observed(
    fire: Callable[[RunnerEvent], None], api: str, scheduler: str | None = None
) -> Iterator[ApiCall]:
    """Time the block and ``fire`` its RunnerEvent at the end, also when it raises."""
    call = ApiCall(scheduler)
    start = time.perf_counter()
    error: str | None = None
    try:
        yield call
    except BaseException as err:
        error = f"{type(err).__name__}: {err}"
        raise
    finally:
        duration = time.perf_counter() - start
        fire(RunnerEvent(api, call.scheduler, call.app_id, duration, error, call.handle))


@contextmanager
def backend_errors(scheduler: str, api: str, handle: AppHandle | None = None) -> Iterator[None]:
    """Turn a scheduler's raw exception into a BackendError naming it and ``api``.

    With ``handle``, the scheduler's AppNotFoundError becomes one naming the
    whole handle, with a hint. Errors of the hierarchy pass unchanged.
    """
    try:
        yield
    except AppNotFoundError as err:
        if handle is None:
            raise
        raise app_not_found(handle) from err
    except TorchrunCoreError:
        raise
    except Exception as err:
        raise BackendError(
            f"{scheduler} scheduler failed in {api}: {type(err).__name__}: {err}",
            hint="rerun with --debug for the traceback",
            scheduler=scheduler,
            api=api,
        ) from err


def app_not_found(handle: AppHandle, detail: str = "") -> AppNotFoundError:
    """The error for a handle that neither the store nor its scheduler knows."""
    return AppNotFoundError.for_handle(handle, detail)


def wait_timeout(handle: AppHandle, state: AppState, timeout: float | None) -> WaitTimeoutError:
    """The error for a ``wait`` that ran out of time with the app still in ``state``."""
    return WaitTimeoutError(
        f"app {handle} is still {state} after {timeout or 0:g} s",
        hint=f"wait longer, or look at it: torchrun-core status {handle}",
        handle=str(handle),
        state=state,
    )
