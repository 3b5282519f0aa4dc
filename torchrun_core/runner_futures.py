"""``runner.futures``: the Runner's blocking calls, each returning a ``Future`` instead.

Like mcli's ``future=True``: ``runner.futures.run(app)`` returns at once with
a :class:`concurrent.futures.Future` of the handle; its ``result()`` is what
``runner.run(app)`` would have returned, and it raises what that would have
raised. The calls run on a thread pool the runner owns (see
:class:`torchrun_core.runner_bulk.RunnerBulk`). Imported on first use of
``runner.futures`` only.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Concatenate, ParamSpec, TypeVar

from torchrun_core.runner import Runner

P = ParamSpec("P")
T = TypeVar("T")


def _non_blocking(
    blocking: Callable[Concatenate[Runner, P], T],
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

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    # submission
    dryrun = _non_blocking(Runner.dryrun)
    schedule = _non_blocking(Runner.schedule)
    run = _non_blocking(Runner.run)
    dryrun_component = _non_blocking(Runner.dryrun_component)
    run_component = _non_blocking(Runner.run_component)

    # many runs, and runs again
    run_many = _non_blocking(Runner.run_many)
    rerun = _non_blocking(Runner.rerun)

    # observation and control
    status, wait = _non_blocking(Runner.status), _non_blocking(Runner.wait)
    cancel, describe = _non_blocking(Runner.cancel), _non_blocking(Runner.describe)
    list, events = _non_blocking(Runner.list), _non_blocking(Runner.events)

    def __repr__(self) -> str:
        return f"{self.runner!r}.futures"
