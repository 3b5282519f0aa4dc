"""Write-ahead submission: record a run first, launch it second, and resolve broken launches.

Every scheduler goes through :func:`submit`, so that no plugin has to care:

1. The run is recorded (state UNSUBMITTED, with a :class:`LaunchMark` naming
   this process) under the dry run's app id when the scheduler fixed one
   (local, docker, kubernetes), else under a provisional id. A run that
   cannot be recorded (the store locked, corrupt, or its disk full) is never
   launched.
2. The scheduler launches it.
3. The record takes the scheduler's id (renamed if it was provisional), the
   mark is cleared, and a SUBMITTED event is appended.

A process that dies between 1 and 3 (``kill -9``) leaves a marked record.
:func:`resolve` settles it for whoever reads it next: with an id fixed at dry
run, the scheduler is asked whether the app exists (it may be incomplete);
without one, it reads UNKNOWN with a message saying why, never as a live app.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from torchrun_core.errors import BackendError, TorchrunCoreError, UnexpectedStateError
from torchrun_core.runner.calls import backend_errors
from torchrun_core.runstore import RunStore
from torchrun_core.runstore.launch_mark import LaunchMark, provisional_app_id
from torchrun_core.runstore.record import RunRecord, stored_app_json, stored_cfg
from torchrun_core.scheduler import Scheduler
from torchrun_core.specs.dryrun import AppDryRunInfo
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus
from torchrun_core.tracking import env as tracker_env

# How the event of a run settled as never launched begins (status repeats it).
NEVER_LAUNCHED = "never launched"


def submit(
    store: RunStore,
    sched: Scheduler[Any],
    info: AppDryRunInfo[Any],
    target: Callable[[AppHandle], AppHandle],
) -> AppHandle:
    """Record ``info``'s app, launch exactly ``info``, then complete the record.

    ``target`` is told the handle as soon as it is known (for the API event).

    Raises:
        BackendError: the run could not be recorded (nothing was launched),
            or it was launched but its record could not be completed (the
            message names its handle).
        Whatever ``sched.schedule`` raises; its record is then forgotten,
            unless the scheduler still has parts of the app.
    """
    mark = LaunchMark.begin(id_known=info.app_id is not None)
    try:
        handle = AppHandle(info.scheduler, sched.session, info.app_id or provisional_app_id())
        try:
            _record(store, info, handle, mark)
        except BackendError as err:
            raise BackendError(
                f"{info.app.name} was not launched: its run could not be recorded: {err}",
                hint=err.hint,
                scheduler=info.scheduler,
            ) from err
        target(handle)
        try:
            with backend_errors(info.scheduler, "schedule"):
                app_id = sched.schedule(info)
        except Exception as err:
            _after_failed_launch(store, sched, handle, mark, err)
            raise
        # Any other BaseException (KeyboardInterrupt) leaves the marked record:
        # the app may be launched or not, and resolve() finds out later.
        launched = target(AppHandle(info.scheduler, sched.session, app_id))
        _complete(store, info, handle, launched, mark)
        return launched
    finally:
        mark.end()


def _record(store: RunStore, info: AppDryRunInfo[Any], handle: AppHandle, mark: LaunchMark) -> None:
    store.add_run(
        str(handle),
        scheduler=handle.scheduler,
        session=handle.session,
        app_id=handle.app_id,
        app_name=info.app.name,
        app_json=stored_app_json(info.app),
        cfg=stored_cfg(info.cfg),
        parent_run_id=tracker_env.parent_run_id_of(info.app),
        state=AppState.UNSUBMITTED,
        message=f"recorded before its launch by {mark.launcher}",
        launch_json=mark.to_json(),
    )


def _complete(
    store: RunStore,
    info: AppDryRunInfo[Any],
    recorded: AppHandle,
    launched: AppHandle,
    mark: LaunchMark,
) -> None:
    """Turn the marked record into the launched app's (recreated if it was deleted meanwhile)."""
    try:
        if not store.launched(str(recorded), str(launched), launched.app_id):
            _record(store, info, launched, mark)
            store.launched(str(launched), str(launched), launched.app_id)
    except BackendError as err:
        raise BackendError(
            f"app {launched} was launched, but its run could not be recorded: {err}",
            hint=f"it runs: see it with: torchrun-core status {launched} ; "
            f"stop it with: torchrun-core cancel {launched}",
            scheduler=launched.scheduler,
            handle=str(launched),
        ) from err


def _after_failed_launch(
    store: RunStore, sched: Scheduler[Any], handle: AppHandle, mark: LaunchMark, err: Exception
) -> None:
    """Forget the record of a launch that failed, unless the scheduler kept parts of the app.

    A scheduler removes what a failed launch made; if it could not (its
    cleanup failed too), the record stays, FAILED, so that ``delete`` finds
    the remains. Store errors here are left for :func:`resolve` to settle.
    """
    with contextlib.suppress(TorchrunCoreError):
        leftover = None
        if mark.id_known:
            with backend_errors(handle.scheduler, "describe"):
                leftover = sched.describe(handle.app_id)
        if leftover is None:
            store.delete(str(handle))
            return
        store.settle_launch(
            str(handle),
            AppState.FAILED,
            f"its launch failed ({err}); {handle.scheduler} kept parts of it: delete it",
        )


def resolve(
    store: RunStore, record: RunRecord, describe: Callable[[], AppStatus | None]
) -> AppStatus:
    """The status of a run recorded with a launch mark, settling the launch if it ended.

    A launch still in flight reads as its record (UNSUBMITTED). An
    interrupted launch with an id fixed at dry run is settled by asking the
    scheduler (``describe``): the app's state if it exists, else FAILED
    ("never launched"). Without such an id, it reads UNKNOWN for good.
    """
    mark = record.launch
    assert mark is not None
    if mark.in_flight():
        return record.recorded_status(f"being launched by {mark.launcher}")
    if not mark.id_known:
        message = lost_message(record, mark)
        if record.state is not AppState.UNKNOWN:  # settled once; later reads write nothing
            store.settle_launch(record.handle, AppState.UNKNOWN, message, keep_mark=True)
        return AppStatus(
            state=AppState.UNKNOWN, handle=record.handle, message=message,
            created_at=record.created_at,
        )  # fmt: skip
    status = describe()
    if status is None:
        message = f"{NEVER_LAUNCHED}: {mark.launcher} ended before {record.scheduler} started it"
        store.settle_launch(record.handle, AppState.FAILED, message)
        record.state, record.launch_json = AppState.FAILED, None
        return record.recorded_status(message)
    record.launch_json = None  # the caller's copy reads as settled too
    store.settle_launch(
        record.handle,
        status.state,
        f"its launch by {mark.launcher} was interrupted; {record.scheduler} has the app "
        "(it may be incomplete: cancel or delete it if it does not run)",
    )
    return status


def lost_message(record: RunRecord, mark: LaunchMark) -> str:
    """Why a run without a scheduler's id reads UNKNOWN."""
    return (
        f"its launch by {mark.launcher} was interrupted before {record.scheduler} gave it an id: "
        f"it may run untracked (look for app name {record.app_name!r} on {record.scheduler}); "
        "delete forgets this record"
    )


def check_actionable(
    record: RunRecord | None, handle: AppHandle, action: str, refuse_in_flight: bool = True
) -> None:
    """Raise :func:`not_launched` when ``record`` has no scheduler's id, or is being launched.

    ``refuse_in_flight=False`` lets a launch in flight with an id pass (``wait`` waits for it).
    """
    mark = None if record is None else record.launch
    if record is None or mark is None:
        return
    if not mark.id_known or (refuse_in_flight and mark.in_flight()):
        raise not_launched(handle, record, action)


def not_launched(handle: AppHandle, record: RunRecord, action: str) -> UnexpectedStateError:
    """The error for ``action`` (cancel, log) on a run whose launch has no scheduler's id."""
    mark = record.launch
    assert mark is not None
    if mark.in_flight():
        why = f"it is being launched by {mark.launcher}"
        hint = f"try again once it is launched: torchrun-core status {handle}"
    else:
        why = f"its launch by {mark.launcher} was interrupted before it got an id"
        hint = f"forget its record with: torchrun-core delete {handle}"
    return UnexpectedStateError(
        f"cannot {action} app {handle}: {why}",
        hint=hint,
        handle=str(handle),
        state=record.state,
    )
