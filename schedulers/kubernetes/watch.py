"""A Watcher woken by the watch API: ``wait`` is event-driven, not a poll."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from torchrun_core.errors import SchedulerUnavailableError
from torchrun_core.scheduler import Watcher
from torchrun_core.schedulers.kubernetes.errors import translate

# A watch request ends server-side after this long and is made again, so a
# stopped watcher's thread exits within this bound.
_WATCH_SECONDS = 30
# The client gives up on a silent connection after this long (connect, read): a
# server gone without closing it would otherwise hold the watch for ever.
_WATCH_TIMEOUT = (10.0, _WATCH_SECONDS + 15.0)
# Reconnecting after a failed watch backs off between these bounds (seconds).
_FIRST_RETRY_S = 0.5
_MAX_RETRY_S = 10.0


class AppWatch(Watcher):
    """Watches the app's Jobs and Pods (by label) in two daemon threads.

    Any event wakes ``wait``. A watch the API server breaks off (a restart,
    a timeout, a 5xx) wakes ``wait`` too, so that it re-reads the state (and
    meets the outage there), and is made again with backoff until the server
    answers. A watch refused for good (no permission) leaves ``wait`` on the
    base class's backoff poll.
    """

    def __init__(self, client: Any, namespace: str, selector: str) -> None:
        super().__init__(first_delay=0.2, max_delay=2.0)
        self._client = client
        self._namespace = namespace
        self._selector = selector
        self._event = threading.Event()
        self._stopped = threading.Event()
        self._broken = False
        self.reconnects = 0  # watches made again after a failure (tests, benchmarks)
        self._watches: list[Any] = []

    def __enter__(self) -> AppWatch:
        from kubernetes.client import BatchV1Api, CoreV1Api

        listers = (
            BatchV1Api(self._client).list_namespaced_job,
            CoreV1Api(self._client).list_namespaced_pod,
        )
        for lister in listers:
            threading.Thread(target=self._run, args=(lister,), daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        for watch in list(self._watches):
            watch.stop()

    def _run(self, lister: Any) -> None:
        delay = _FIRST_RETRY_S
        while not self._stopped.is_set():
            opened = time.monotonic()
            try:
                self._stream(lister)
            except Exception as err:
                if not _transient(err):
                    self._broken = True
                    self._event.set()
                    return
            else:
                if time.monotonic() - opened >= 1.0:  # a whole watch: the server is fine
                    delay = _FIRST_RETRY_S
                    continue
            if self._stopped.is_set():
                return
            # Broken off (or ended at once): the caller re-reads the state, which
            # shows an outage, and this watch is made again after a pause.
            self._event.set()
            self.reconnects += 1
            self._stopped.wait(delay)
            delay = min(delay * 2, _MAX_RETRY_S)

    def _stream(self, lister: Any) -> None:
        """One watch request, until the server ends it (after ``_WATCH_SECONDS``)."""
        from kubernetes import watch as watch_module

        watch: Any = watch_module  # the SDK leaves Watch untyped

        # No resourceVersion: each watch opens with an ADDED event per existing object,
        # which wakes ``wait`` once; the caller then reads the state the watch starts
        # from, so no change between its last read and the watch opening is missed.
        w = watch.Watch()
        self._watches.append(w)
        try:
            stream = w.stream(
                lister, self._namespace, label_selector=self._selector,
                timeout_seconds=_WATCH_SECONDS, deserialize=False,
                _request_timeout=_WATCH_TIMEOUT,
            )  # fmt: skip
            for _event in stream:
                self._event.set()
                if self._stopped.is_set():
                    break
        finally:
            self._watches.remove(w)

    def wait(self, timeout: float) -> None:
        """Return on the next Job or Pod event, or after ``timeout`` seconds."""
        if self._broken:
            super().wait(timeout)
            return
        self._event.wait(max(0.0, timeout))
        self._event.clear()


def _transient(err: Exception) -> bool:
    """Whether a failed watch may work when made again (else: a 4xx, such as no permission)."""
    if isinstance(err, (KeyError, ValueError)):
        return True  # the SDK on an ERROR event in the stream, or a line cut short
    return isinstance(translate(err, "watch"), SchedulerUnavailableError)
