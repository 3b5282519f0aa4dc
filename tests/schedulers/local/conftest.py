"""Fixtures for the local scheduler's tests: a scheduler per test, and app runners.

Every test already has its own ``TORCHRUN_CORE_STATE_DIR`` (tests/conftest.py),
so each ``LocalScheduler`` made here keeps its apps under the test's tmp dir.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from local_apps import wait_for

from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus


@pytest.fixture
def sched(state_dir: Path) -> Iterator[LocalScheduler]:
    """A local scheduler of session ``test`` in this test's state dir."""
    scheduler = LocalScheduler("test")
    assert str(scheduler.session_dir).startswith(str(state_dir))
    yield scheduler
    # Leave nothing running behind a failed test.
    for listed in scheduler.list():
        if listed.state in (AppState.SUBMITTED, AppState.PENDING, AppState.RUNNING):
            scheduler.cancel(listed.app_id)


@pytest.fixture
def run(sched: LocalScheduler) -> Callable[..., tuple[str, AppStatus]]:
    """``run(app, **cfg)`` schedules ``app`` and waits: ``(app_id, final status)``."""

    def _run(app: AppDef, timeout: float = 30.0, **cfg: Any) -> tuple[str, AppStatus]:
        app_id = sched.schedule(sched.dryrun(app, cfg))
        return app_id, wait_for(sched, app_id, timeout)

    return _run


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work dir"  # a space, to check it is passed intact
    path.mkdir()
    return path
