"""The Runner: submit, observe and control apps on any scheduler, remembering every run.

A Runner is a session (its ``name``) over the installed scheduler plugins and
the run store. Every submitted app is recorded in the store with its spec,
options and state history, so that ``status``, ``wait``, ``log_lines``,
``cancel`` and ``list`` work from any process. Each public call fires the
observe-only ``torchrun_core_on_event`` hook, also when it fails.

This module only composes the parts (see the package's docstring); each part
depends on ``RunnerBase`` or on ``RunnerSubmission``, never on this class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchrun_core.runner.bulk import RunnerBulk
from torchrun_core.runner.control import MAX_WATCH_S, RunnerControl
from torchrun_core.runner.observation import RunnerObservation
from torchrun_core.runner.queries import RunnerQueries
from torchrun_core.runner.rerun import RunnerRerun
from torchrun_core.runner.tracking import RunnerTracking

if TYPE_CHECKING:
    from torchrun_core.runner.futures import RunnerFutures


class Runner(
    RunnerBulk, RunnerRerun, RunnerTracking, RunnerControl, RunnerQueries, RunnerObservation
):
    """Runs apps on scheduler plugins and records them in a :class:`RunStore`.

    Constructed like :class:`~torchrun_core.runner.base.RunnerBase` (session
    name, store, registry, scheduler params, tracker config). Submission
    (``RunnerSubmission``, under ``RunnerBulk`` and ``RunnerRerun``),
    observation, control, queries, re-runs, tracking read-back and bulk
    submission each come from their own part.
    """

    @property
    def futures(self) -> RunnerFutures:
        """The blocking calls' non-blocking twins: each returns a ``Future`` of its result."""
        from torchrun_core.runner.futures import RunnerFutures

        return RunnerFutures(self)


def get_runner(name: str = "default", **kwargs: Any) -> Runner:
    """A :class:`Runner` for session ``name``; use it as a context manager to close it."""
    return Runner(name, **kwargs)


__all__ = ["MAX_WATCH_S", "Runner", "get_runner"]
