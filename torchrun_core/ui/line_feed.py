"""Lines from a blocking iterator, read in a thread, handed to an async response in batches.

A log follow blocks between lines; the event loop must not. The reading
thread appends under a lock and wakes the loop only when the buffer was
empty, so a chatty job costs one wake-up per batch, not per line. It waits
when the browser reads slower than the job writes, and stops at its next
line once the response is gone.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

MAX_BUFFERED = 20_000


class LineFeed:
    """``async for batch in feed.batches()``: lists of lines until the iterator ends."""

    def __init__(self, lines: Iterator[str], skip: int = 0) -> None:
        self._lines = lines
        self._skip = skip
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._buffer: list[str] = []
        self._done = False
        self._stopped = False
        self._early = False
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: asyncio.Event | None = None

    def _wake(self) -> None:
        loop, ready = self._loop, self._ready
        if loop is not None and ready is not None and not loop.is_closed():
            loop.call_soon_threadsafe(ready.set)

    def _pump(self) -> None:
        try:
            for index, line in enumerate(self._lines):
                if index < self._skip:
                    continue
                with self._lock:
                    while len(self._buffer) >= MAX_BUFFERED and not self._stopped:
                        self._drained.wait(timeout=1.0)
                    if self._stopped:
                        return
                    self._buffer.append(line)
                    first = len(self._buffer) == 1
                if first:
                    self._wake()
        except BaseException as err:  # handed to the response, which reports it
            self._error = err
        finally:
            with self._lock:
                self._done = True
            self._wake()

    async def batches(self) -> AsyncIterator[list[str]]:
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        # A daemon: a follow of a quiet log blocks until its next line, and
        # must not keep the server from exiting.
        threading.Thread(target=self._pump, name="log-feed", daemon=True).start()
        try:
            while True:
                await self._ready.wait()
                with self._lock:
                    self._ready.clear()
                    batch, self._buffer = self._buffer, []
                    done = self._done or self._stopped
                    self._drained.notify_all()
                if batch:
                    yield batch
                if done:
                    if self._error is not None and not self._stopped:
                        raise self._error
                    return
        finally:
            self.stop()

    def stop(self) -> None:
        """End the batches (after what is buffered) and the reading thread; any thread."""
        with self._lock:
            self._early = self._early or not (self._done or self._stopped)
            self._stopped = True
            self._drained.notify_all()
        self._wake()

    @property
    def stopped_early(self) -> bool:
        """True when :meth:`stop` came before the lines ended (the server is stopping)."""
        return self._early
