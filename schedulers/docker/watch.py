"""A watcher woken by the daemon's events for one app's containers.

``GET /events`` filtered by the app's label streams every create, start,
die and destroy of its containers. The subscription is made before the
watcher is handed out, so that a change between the caller's first status
read and its first ``wait`` still wakes it; a thread reads the stream and
sets a flag that ``wait`` blocks on.
"""

from __future__ import annotations

import contextlib
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

from torchrun_core.scheduler import Watcher
from torchrun_core.schedulers.docker.plan import LABEL_APP, LABEL_SESSION
from torchrun_core.schedulers.shared.docker_daemon import translated

if TYPE_CHECKING:
    from docker import APIClient

# A stream cut by the daemon (restart) wakes waiters, which then poll this often.
_FALLBACK_POLL_S = 1.0
# The daemon sends an event (a "die") a moment before its container list shows
# the change (~80 ms here): for this long after an event, or after subscribing
# (the event may have come just before), wait() returns soon, so that the caller
# reads again rather than sleeping on a state that was not yet visible.
_SETTLE_S = 0.5
_SETTLE_POLL_S = 0.05


class EventWatcher(Watcher):
    """Context manager and :class:`Watcher`: ``wait`` returns on the app's next event."""

    def __init__(self, client: APIClient, address: str, app_id: str, session: str) -> None:
        super().__init__()
        self._client = client
        self._address = address
        self._filters = {
            "type": ["container"],
            "label": [f"{LABEL_APP}={app_id}", f"{LABEL_SESSION}={session}"],
        }
        self._changed = threading.Event()
        self._last_event = 0.0
        self._closed = False
        self._stream: object | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EventWatcher:
        with translated(self._address, "subscribe to events"):
            self._stream = stream = self._client.events(filters=self._filters)
        self._thread = threading.Thread(
            target=self._read, args=(stream,), name="docker-events", daemon=True
        )
        self._thread.start()
        self._last_event = time.monotonic()
        return self

    def _read(self, stream: object) -> None:
        try:
            for _ in stream:  # type: ignore[attr-defined]
                self._last_event = time.monotonic()
                self._changed.set()
        except Exception:  # closed by __exit__, or the daemon went away
            pass
        finally:
            self._changed.set()
            if not self._closed:
                self._stream = None  # cut by the daemon: wait() polls from now on

    def wait(self, timeout: float) -> None:
        """Block until an event of the app arrives, or ``timeout`` seconds pass."""
        if self._changed.is_set():
            self._changed.clear()
            return
        limit = timeout if self._stream is not None else min(timeout, _FALLBACK_POLL_S)
        if time.monotonic() - self._last_event < _SETTLE_S:
            limit = min(limit, _SETTLE_POLL_S)
        self._changed.wait(max(0.0, limit))
        self._changed.clear()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):  # the socket is gone either way
                stream.close()  # type: ignore[attr-defined]
        if self._thread is not None:
            self._thread.join(timeout=2.0)
