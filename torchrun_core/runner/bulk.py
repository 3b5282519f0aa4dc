"""The Runner's non-blocking and bulk calls.

The pool behind ``runner.futures`` (the blocking calls, each returning a
:class:`concurrent.futures.Future`) is owned here: made on first use, shut
down by ``close``; ``run_many`` submits many apps
with a bounded number of submissions in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, TypeVar

from torchrun_core.errors import InvalidInputError
from torchrun_core.runner.submission import RunnerSubmission

if TYPE_CHECKING:
    from torchrun_core.specs.app import AppDef
    from torchrun_core.specs.handle import AppHandle

T = TypeVar("T")
# Guards making and shutting down each runner's pool (rare: one lock for all runners).
_POOL_LOCK = threading.Lock()


class RunnerBulk(RunnerSubmission):
    """Futures for the blocking calls, and bulk submission with bounded concurrency."""

    #: Threads of the ``futures`` pool; set before the first future to change it.
    #: A ``futures.wait`` holds a thread until the app ends.
    future_workers: int = 16
    _pool: ThreadPoolExecutor | None = None

    def _submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` on this runner's pool, made on first use."""
        with _POOL_LOCK:  # submitting under the lock: close() cannot shut the pool in between
            if self._pool is None:
                self._prepare_for_threads()
                self._pool = ThreadPoolExecutor(
                    self.future_workers, thread_name_prefix=f"torchrun-core-{self.name}"
                )
            return self._pool.submit(fn, *args, **kwargs)

    def _prepare_for_threads(self) -> None:
        # The store and registry are made on first use; make them here, so that
        # worker threads never race to make two.
        _ = self.store, self.registry

    def run_many(
        self,
        apps: Sequence[AppDef],
        scheduler: str = "local",
        cfg: Mapping[str, Any] | None = None,
        *,
        max_concurrency: int = 8,
        parent_run_id: str | None = None,
    ) -> list[AppHandle | Exception]:
        """Run every app, at most ``max_concurrency`` submissions at a time.

        Returns, in the order of ``apps``, each app's handle or the exception
        its submission raised: one bad app does not stop the others.

        Raises:
            InvalidInputError: ``max_concurrency`` is below 1.
        """
        if max_concurrency < 1:
            raise InvalidInputError(
                f"max_concurrency must be at least 1, got {max_concurrency}",
                hint="give the number of submissions that may run at once",
            )
        with self._api("run_many", scheduler):
            if not apps:
                return []
            self._prepare_for_threads()
            run = self.run
            pool = ThreadPoolExecutor(
                min(max_concurrency, len(apps)),
                thread_name_prefix=f"torchrun-core-{self.name}-bulk",
            )
            try:
                futures = [pool.submit(run, app, scheduler, cfg, parent_run_id) for app in apps]
                wait(futures)
            finally:  # interrupted: submit no more; those in flight end on their own
                pool.shutdown(wait=False, cancel_futures=True)
            return [_outcome(future) for future in futures]

    def close(self) -> None:
        """Shut the futures pool down (cancelling queued calls, awaiting running ones), then close.

        A running ``futures.wait`` without a timeout makes this wait for its app.
        """
        with _POOL_LOCK:
            pool, self._pool = self._pool, None
        try:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        finally:
            super().close()


def _outcome(future: Future[AppHandle]) -> AppHandle | Exception:
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, Exception):
        return error
    raise error  # SystemExit and the like are not one app's failure
