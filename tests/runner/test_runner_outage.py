"""Runner.wait rides out an engine it cannot reach (a controller restart), within bounds."""

from __future__ import annotations

import threading

import pytest
from inmemory_scheduler import InMemoryEngine, two_role_app

from torchrun_core.errors import BackendError, SchedulerUnavailableError
from torchrun_core.runner import Runner, outage
from torchrun_core.specs.state import AppState

S = AppState


def _running(runner: Runner, engine: InMemoryEngine) -> str:
    handle = runner.run(two_role_app(), "inmemory")
    engine.set_state(handle.app_id, S.RUNNING)
    runner.status(handle)
    return str(handle)


def _recover_after(engine: InMemoryEngine, app_id: str, seconds: float, final: AppState) -> None:
    """After ``seconds``, the engine answers again and the app has ended ``final``."""

    def recover() -> None:
        engine.failures.clear()
        engine.set_state(app_id, final)

    threading.Timer(seconds, recover).start()


@pytest.mark.parametrize("api", ["describe", "watch"])
def test_wait_rides_out_an_outage_and_returns_the_true_final_state(
    runner: Runner, engine: InMemoryEngine, api: str
) -> None:
    handle = _running(runner, engine)
    app_id = handle.rsplit("/", 1)[1]
    engine.fail(api, SchedulerUnavailableError("controller down", scheduler="inmemory"))
    _recover_after(engine, app_id, 1.5, S.FAILED)
    status = runner.wait(handle, timeout=30)
    assert status.state is S.FAILED
    assert runner.store.state(handle) is S.FAILED
    # It kept asking through the outage, with backoff: more than once, not in a busy loop.
    describes = [c for c in engine.calls if c == ("describe", app_id)]
    assert 2 <= len(describes) < 30


def test_wait_reopens_the_watch_after_an_outage(runner: Runner, engine: InMemoryEngine) -> None:
    handle = _running(runner, engine)
    app_id = handle.rsplit("/", 1)[1]
    engine.fail("describe", SchedulerUnavailableError("controller down"))
    _recover_after(engine, app_id, 1.0, S.SUCCEEDED)
    assert runner.wait(handle, timeout=30).state is S.SUCCEEDED
    assert engine.calls.count(("watch", app_id)) >= 2


def test_wait_gives_up_after_the_outage_limit(
    runner: Runner, engine: InMemoryEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = _running(runner, engine)
    monkeypatch.setattr(outage, "OUTAGE_LIMIT_S", 0.8)
    monkeypatch.setattr(outage.OutageBackoff.__init__, "__defaults__", (0.8,))
    engine.fail("describe", SchedulerUnavailableError("controller down"))
    with pytest.raises(SchedulerUnavailableError, match="controller down"):
        runner.wait(handle)


def test_wait_gives_up_at_its_timeout_during_an_outage(
    runner: Runner, engine: InMemoryEngine
) -> None:
    handle = _running(runner, engine)
    engine.fail("describe", SchedulerUnavailableError("controller down"))
    with pytest.raises(SchedulerUnavailableError):
        runner.wait(handle, timeout=1.0)


def test_other_backend_errors_still_end_wait_at_once(
    runner: Runner, engine: InMemoryEngine
) -> None:
    handle = _running(runner, engine)
    app_id = handle.rsplit("/", 1)[1]
    engine.fail("describe", BackendError("refused"))
    with pytest.raises(BackendError, match="refused"):
        runner.wait(handle, timeout=30)
    assert engine.calls.count(("describe", app_id)) == 2  # the status above, then wait's one


def test_status_stays_one_shot_during_an_outage(runner: Runner, engine: InMemoryEngine) -> None:
    handle = _running(runner, engine)
    engine.fail("describe", SchedulerUnavailableError("controller down"))
    with pytest.raises(SchedulerUnavailableError):
        runner.status(handle)
