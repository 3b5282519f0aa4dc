"""The Runner's re-run: submit a recorded run again, as its child."""

from __future__ import annotations

from torchrun_core.runner_base import RunnerBase


class RunnerRerun(RunnerBase):
    """``rerun``: the recorded AppDef and cfg, with overrides, under a new handle."""
