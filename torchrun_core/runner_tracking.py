"""The Runner's read-back of what a job reported through its trackers."""

from __future__ import annotations

from torchrun_core.runner_base import RunnerBase


class RunnerTracking(RunnerBase):
    """``metrics``, ``progress`` and ``checkpoints`` of a run."""
