"""Apps and waiting for the local scheduler's tests (imported by the test modules)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.status import AppStatus

PY = sys.executable


def py_role(code: str, name: str = "r", **fields: Any) -> Role:
    """A role running ``python -c code`` (without site, to start fast)."""
    return Role(
        name=name, entrypoint=PY, args=["-S", "-c", code, *fields.pop("args", [])], **fields
    )


def app_of(*roles: Role, name: str = "t") -> AppDef:
    return AppDef(name=name, roles=list(roles))


def wait_for(sched: LocalScheduler, app_id: str, timeout: float = 30.0) -> AppStatus:
    """The app's terminal status, woken by the scheduler's watcher; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    with sched.watch(app_id) as watcher:
        while True:
            status = sched.describe(app_id)
            assert status is not None, f"app {app_id} vanished"
            if status.is_terminal:
                return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"app {app_id} still {status.state} after {timeout}s: {status}")
            watcher.wait(remaining)


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        time.sleep(0.01)


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs: absent, or a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"Z", b"X")
