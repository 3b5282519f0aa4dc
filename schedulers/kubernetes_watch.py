"""A Watcher woken by the watch API: ``wait`` is event-driven, not a poll."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from torchrun_core.scheduler import Watcher

# A watch request ends server-side after this long and is made again, so a
# stopped watcher's thread exits within this bound.
_WATCH_SECONDS = 30


class AppWatch(Watcher):
    """Watches the app's Jobs and Pods (by label) in two daemon threads.

    Any event wakes ``wait``. If a watch fails (server gone, no permission),
    ``wait`` falls back to the base class's backoff poll.
    """

    def __init__(self, client: Any, namespace: str, selector: str) -> None:
        super().__init__(first_delay=0.2, max_delay=2.0)
        self._client = client
        self._namespace = namespace
        self._selector = selector
        self._event = threading.Event()
        self._stopped = threading.Event()
        self._broken = False
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
        from kubernetes import watch as watch_module

        watch: Any = watch_module  # the SDK leaves Watch untyped

        # No resourceVersion: each watch opens with an ADDED event per existing object,
        # which wakes ``wait`` once; the caller then reads the state the watch starts
        # from, so no change between its last read and the watch opening is missed.
        while not self._stopped.is_set():
            w = watch.Watch()
            self._watches.append(w)
            try:
                stream = w.stream(
                    lister, self._namespace, label_selector=self._selector,
                    timeout_seconds=_WATCH_SECONDS, deserialize=False,
                )  # fmt: skip
                for _event in stream:
                    self._event.set()
                    if self._stopped.is_set():
                        break
            except Exception:
                self._broken = True
                self._event.set()
                return
            finally:
                self._watches.remove(w)

    def wait(self, timeout: float) -> None:
        """Return on the next Job or Pod event, or after ``timeout`` seconds."""
        if self._broken:
            super().wait(timeout)
            return
        self._event.wait(max(0.0, timeout))
        self._event.clear()
