"""``runner.futures``: the Runner's blocking calls, each returning a ``Future`` instead.

Like mcli's ``future=True``: ``runner.futures.run(app)`` returns at once with
a :class:`concurrent.futures.Future` of the handle; its ``result()`` is what
``runner.run(app)`` would have returned, and it raises what that would have
raised. The calls run on a thread pool the runner owns (see
:class:`torchrun_core.runner.bulk.RunnerBulk`). Imported on first use of
``runner.futures`` only. The methods are taken from the Runner's parts, so this
module never imports the composed ``Runner`` (no import cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Concatenate, ParamSpec, TypeVar

from torchrun_core.runner.bulk import RunnerBulk
from torchrun_core.runner.control import RunnerControl
from torchrun_core.runner.observation import RunnerObservation
from torchrun_core.runner.queries import RunnerQueries
from torchrun_core.runner.rerun import RunnerRerun
from torchrun_core.runner.submission import RunnerSubmission

P = ParamSpec("P")
T = TypeVar("T")


def _non_blocking(
    blocking: Callable[Concatenate[Any, P], T],
) -> Callable[Concatenate[RunnerFutures, P], Future[T]]:
    """A RunnerFutures method that runs the runner's method of the same name on its pool."""
    name = blocking.__name__

    def method(self: RunnerFutures, /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        # Looked up on the runner, so that a subclass's override is the one run.
        target: Callable[P, T] = getattr(self.runner, name)
        return self.runner._submit(target, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Non-blocking :meth:`Runner.{name}`: a Future of its result.\n"
    return method


class RunnerFutures:
    """The non-blocking twins of a Runner's calls; get it as ``runner.futures``."""

    __slots__ = ("runner",)

    def __init__(self, runner: RunnerBulk) -> None:
        self.runner = runner

    # submission
    dryrun = _non_blocking(RunnerSubmission.dryrun)
    schedule = _non_blocking(RunnerSubmission.schedule)
    run = _non_blocking(RunnerSubmission.run)
    dryrun_component = _non_blocking(RunnerSubmission.dryrun_component)
    run_component = _non_blocking(RunnerSubmission.run_component)

    # many runs, and runs again
    run_many = _non_blocking(RunnerBulk.run_many)
    rerun = _non_blocking(RunnerRerun.rerun)

    # observation and control
    status, wait = _non_blocking(RunnerObservation.status), _non_blocking(RunnerControl.wait)
    cancel, describe = (
        _non_blocking(RunnerControl.cancel),
        _non_blocking(RunnerObservation.describe),
    )
    list, events = _non_blocking(RunnerQueries.list), _non_blocking(RunnerQueries.events)

    def __repr__(self) -> str:
        return f"{self.runner!r}.futures"
