"""``wait`` on a terminal: a progress bar from the job's reported progress, else a spinner.

Only used when stderr is a TTY (never in tests' or CI's captured output);
rich is imported then, and only then. ``Runner.wait`` blocks, so the display
polls it with short timeouts and re-reads the job's latest progress report
between polls; the wait still ends within one poll of the app's change.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import AppNotFoundError, WaitTimeoutError

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.specs.state import AppState
    from torchrun_core.specs.status import AppStatus
    from torchrun_core.tracking.records import MetricPoint

POLL_S = 0.5  # how long each Runner.wait call blocks between two redraws


def describe(state: str, point: MetricPoint | None) -> dict[str, Any]:
    """What the display shows: a description, and a total/completed when there is progress."""
    if point is None:
        return {"description": f"{state}", "total": None, "completed": 0, "units": ""}
    units = f" {point.units}" if point.units else ""
    final = "?" if point.final_value is None else f"{point.final_value:g}"
    return {
        "description": f"{point.tag} ({state})",
        "total": point.final_value,
        "completed": point.value,
        "units": f"{point.value:g}/{final}{units}",
    }


def latest_progress(runner: Runner, handle: str) -> MetricPoint | None:
    """The most recent progress report of the job, None when there is none (yet)."""
    try:
        points = runner.progress(handle)
    except AppNotFoundError:  # known to its scheduler only: nothing recorded to read
        return None
    return points[-1] if points else None


def wait_showing_progress(
    runner: Runner, handle: str, timeout: float | None, state: AppState | None
) -> AppStatus:
    """``runner.wait(handle, timeout, state)``, drawing progress on stderr meanwhile.

    Raises:
        WaitTimeoutError: ``timeout`` seconds passed first (as ``Runner.wait``).
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    deadline = None if timeout is None else time.monotonic() + timeout
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[units]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as display:
        task = display.add_task(handle, total=None, units="")
        while True:
            left = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
            try:
                return runner.wait(handle, timeout=max(left, 0.0), state=state)
            except WaitTimeoutError as err:
                current = getattr(err, "state", None)
                if deadline is not None and time.monotonic() >= deadline:
                    raise _timed_out(handle, current, timeout) from None
                shown = current.value if current is not None else "waiting"
                display.update(task, **describe(shown, latest_progress(runner, handle)))


def _timed_out(handle: str, state: AppState | None, timeout: float | None) -> WaitTimeoutError:
    """The error ``Runner.wait`` gives for the whole ``timeout`` (not the last poll's)."""
    from torchrun_core.runner.calls import wait_timeout
    from torchrun_core.specs.handle import parse_handle
    from torchrun_core.specs.state import AppState

    return wait_timeout(parse_handle(handle), state or AppState.UNKNOWN, timeout)
