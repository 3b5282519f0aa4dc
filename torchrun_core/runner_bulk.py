"""The Runner's non-blocking and bulk calls."""

from __future__ import annotations

from torchrun_core.runner_base import RunnerBase


class RunnerBulk(RunnerBase):
    """Futures for the blocking calls, and bulk submission with bounded concurrency."""
