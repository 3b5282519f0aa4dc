"""Jobs, run records and clients for the dashboard's API tests (imported by the test modules)."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from torchrun_core.runner import Runner
from torchrun_core.runstore import RunStore
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import LIVE_STATES, AppState
from torchrun_core.ui.app import create_app
from torchrun_core.ui.settings import UiSettings

with warnings.catch_warnings():
    # Starlette 1.x would rather drive its TestClient with httpx2; httpx works the same.
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

BASE_URL = "http://127.0.0.1:8610"
SECRET = "s3cr3t-value-123"
LOG_LINES = 2500

# Reports through the file tracker, then prints LOG_LINES numbered lines.
TRACKED_JOB = textwrap.dedent(
    f"""
    from torchrun_core.tracking import app_run

    run = app_run()
    for step in range(50):
        run.log_metric("loss", 1 / (step + 1), step=step)
    for step in range(30):
        run.log_metric("acc", step / 30, step=step)
    run.report_progress("train", 50, 100, "steps")
    run.log_checkpoint("/ck/10.pt", step=10)
    run.log_checkpoint("/ck/20.pt", step=20, complete=False)
    run.close()
    print("\\n".join(f"line {{i}}" for i in range({LOG_LINES})))
    """
)
# Three lines on each stream.
AUX_JOB = (
    "import sys\n"
    "for i in range(3):\n"
    "    print(f'out {i}', flush=True)\n"
    "    print(f'err {i}', file=sys.stderr, flush=True)\n"
)


def py_role(code: str, name: str = "main", env: dict[str, str] | None = None) -> Role:
    """A role running ``python -c code`` (with site: jobs that track import torchrun_core)."""
    return Role(name=name, entrypoint=sys.executable, args=["-c", code], env=env or {})


def quick_role(code: str, name: str = "main", env: dict[str, str] | None = None) -> Role:
    """A role running ``python -S -c code``: starts faster, imports nothing installed."""
    return Role(name=name, entrypoint=sys.executable, args=["-S", "-c", code], env=env or {})


def app_of(*roles: Role, name: str = "t") -> AppDef:
    return AppDef(name=name, roles=list(roles))


def get_json(c: TestClient, path: str, status: int = 200, **params: Any) -> Any:
    response = c.get(path, params=params)
    assert response.status_code == status, response.text
    return response.json()


def client(runner: Runner, settings: UiSettings | None = None, **kwargs: Any) -> TestClient:
    """A TestClient of the dashboard over ``runner``, at the loopback URL it prints."""
    return TestClient(
        create_app(runner, settings or UiSettings.create()), base_url=BASE_URL, **kwargs
    )


def record(
    store: RunStore,
    handle: str,
    app_name: str,
    state: AppState,
    created_at: float,
    **fields: Any,
) -> str:
    """Write a run straight into the store (no job behind it); returns its handle."""
    scheduler, rest = handle.split("://", 1)
    session, app_id = rest.split("/", 1)
    store.add_run(
        handle,
        scheduler=scheduler,
        session=session,
        app_id=app_id,
        app_name=app_name,
        app_json=fields.pop("app_json", None),
        state=state,
        created_at=created_at,
        **fields,
    )
    return handle


def iter_sse_events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """``(event, data)`` of a server-sent event stream as they come; data parsed as JSON."""
    name, data = "message", None
    for line in lines:
        if line.startswith(":"):
            continue
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data = json.loads(line[len("data: ") :])
        elif line == "" and data is not None:
            yield name, data
            name, data = "message", None


def sse_events(lines: Iterator[str]) -> list[tuple[str, Any]]:
    """Every ``(event, data)`` of a stream that ends."""
    return list(iter_sse_events(lines))


def cancel_live(runner: Runner) -> None:
    """Cancel every run of the runner's store not yet ended, and wait for each."""
    for run in runner.list(states=list(LIVE_STATES)):
        runner.cancel(run.handle)
        runner.wait(run.handle, timeout=60)


@contextmanager
def isolated_env(state: Path) -> Iterator[None]:
    """Like the autouse fixture, for a module-scoped fixture: a state dir of its own."""
    with pytest.MonkeyPatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("TORCHRUN_CORE_") and not key.startswith("TORCHRUN_CORE_TEST_"):
                patch.delenv(key)
        patch.setenv("TORCHRUN_CORE_STATE_DIR", str(state))
        patch.setenv("TORCHRUN_CORE_USER_CONFIG_DIR", str(state.parent / "user-config"))
        yield
