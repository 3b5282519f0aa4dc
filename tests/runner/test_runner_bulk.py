"""Runner.run_many and runner.futures on the real local scheduler."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from torchrun_core.errors import AppNotFoundError, InvalidInputError, UnknownSchedulerError
from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.handle import AppHandle
from torchrun_core.specs.state import AppState

BOUND = 4


def _echo(i: int, image: str = "") -> AppDef:
    return AppDef(
        name=f"echo{i}", roles=[Role(name="r", image=image, entrypoint="echo", args=[str(i)])]
    )


class CountingRunner(Runner):
    """Counts the ``run`` calls in flight; the first BOUND wait for each other at a barrier.

    The barrier proves that BOUND submissions really run at once (with fewer
    workers it would break), and the counter that never more than that do.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = self.calls = 0
        self.barrier = threading.Barrier(BOUND, timeout=60)

    def run(self, *args: Any, **kwargs: Any) -> AppHandle:
        with self.lock:
            self.calls += 1
            first_round = self.calls <= BOUND
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if first_round:
                self.barrier.wait()
            return super().run(*args, **kwargs)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture
def runner() -> Iterator[Runner]:
    with Runner("t") as made:
        yield made


def test_run_many_bounds_concurrency_and_keeps_order() -> None:
    apps = [_echo(i) for i in range(20)]
    with CountingRunner("t") as runner:
        results = runner.run_many(apps, "local", max_concurrency=BOUND)
        assert runner.most_in_flight == BOUND
        assert runner.calls == 20
        handles = [r for r in results if isinstance(r, AppHandle)]
        assert len(handles) == 20, results
        assert len(set(handles)) == 20
        assert [h.app_id.rsplit("-", 1)[0] for h in handles] == [a.name for a in apps]
        for i, handle in enumerate(handles):
            assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
            assert list(runner.log_lines(handle)) == [f"{i}\n"]


def test_run_many_one_bad_app_does_not_stop_the_others(runner: Runner) -> None:
    apps = [_echo(0), _echo(1, image="/no/such/dir"), _echo(2)]
    results = runner.run_many(apps, "local", max_concurrency=2, parent_run_id="local://t/sweep-1")
    assert isinstance(results[1], InvalidInputError) and "/no/such/dir" in str(results[1])
    for result in (results[0], results[2]):
        assert isinstance(result, AppHandle)
        assert runner.wait(result, timeout=60).state is AppState.SUCCEEDED
        assert runner.describe(result).parent_run_id == "local://t/sweep-1"
    assert runner.run_many([], "local") == []


def test_run_many_rejects_a_bound_below_one(runner: Runner) -> None:
    with pytest.raises(InvalidInputError, match="max_concurrency"):
        runner.run_many([_echo(0)], max_concurrency=0)


def test_futures_resolve_to_what_the_blocking_calls_return(runner: Runner) -> None:
    handle = runner.futures.run(_echo(7), "local").result(timeout=60)
    assert isinstance(handle, AppHandle)
    status = runner.futures.wait(handle, timeout=60).result(timeout=90)
    assert status.state is AppState.SUCCEEDED
    assert runner.futures.status(handle).result(timeout=60) == runner.status(handle)
    assert runner.futures.describe(handle).result(timeout=60).app == runner.describe(handle).app
    assert runner.futures.cancel(handle).result(timeout=60) is None  # ended: a no-op
    by_component = runner.futures.run_component("utils.echo", ["--msg", "hi"]).result(timeout=60)
    assert runner.wait(by_component, timeout=60).state is AppState.SUCCEEDED
    info = runner.futures.dryrun(_echo(8)).result(timeout=60)
    scheduled = runner.futures.schedule(info).result(timeout=60)
    assert scheduled.app_id == info.app_id
    many = runner.futures.run_many([_echo(1), _echo(2)], max_concurrency=2).result(timeout=60)
    assert all(isinstance(h, AppHandle) for h in many)
    child = runner.futures.rerun(handle).result(timeout=60)
    assert runner.describe(child).parent_run_id == str(handle)


def test_futures_carry_the_blocking_calls_exceptions(runner: Runner) -> None:
    missing = runner.futures.status("local://t/nope-1")
    assert isinstance(missing.exception(timeout=60), AppNotFoundError)
    with pytest.raises(UnknownSchedulerError):
        runner.futures.run(_echo(0), "no-such-scheduler").result(timeout=60)
    with pytest.raises(InvalidInputError):
        runner.futures.run_many([], max_concurrency=0).result(timeout=60)


class GatedRunner(Runner):
    """``status`` blocks until the test opens the gate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def status(self, handle: str | AppHandle) -> Any:
        self.entered.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return super().status(handle)


def _pool_threads(runner: Runner) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(f"torchrun-core-{runner.name}_")]


def test_close_cancels_queued_calls_and_waits_for_running_ones() -> None:
    runner = GatedRunner("gated")
    runner.future_workers = 1
    handle = runner.run(_echo(0), "local")
    running = runner.futures.status(handle)
    assert runner.entered.wait(60)
    queued: Future[Any] = runner.futures.describe(handle)  # behind the running one: 1 worker
    cancelled = threading.Event()
    queued.add_done_callback(lambda _: cancelled.set())
    assert _pool_threads(runner)
    closer = threading.Thread(target=runner.close)
    closer.start()
    # close() cancels what has not started (wait() is not woken by a cancel: a callback is).
    assert cancelled.wait(60) and queued.cancelled()
    assert not running.done()  # ... and waits for what has
    runner.gate.set()
    closer.join(60)
    assert not closer.is_alive()
    assert running.result(timeout=0).handle == str(handle)
    assert not [t for t in _pool_threads(runner) if t.is_alive()]
    # A closed runner is usable again, as after any close(): a new pool is made.
    assert runner.futures.describe(handle).result(timeout=60).handle == str(handle)
    runner.close()
