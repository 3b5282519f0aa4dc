"""Read local replicas' logs as whole lines: finished, in progress, or followed.

A line is yielded with its ``"\\n"``; only a finished attempt may end with a
line without one. While an attempt is still being written, reading stops at
its last newline, so a line is never split. A finished attempt read without
``since``/``until`` goes through a plain text file iterator (no per-line
Python work); the other cases read blocks with ``os.pread``.
"""

from __future__ import annotations

import io
import os
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Generator, Iterator
from typing import Any

from torchrun_core.errors import BackendError
from torchrun_core.schedulers.local.logs import INDEX_RECORD, STREAMS, index_path, log_path
from torchrun_core.schedulers.local.state import TERMINAL, read_state, settle_state

_BLOCK = 1 << 20
_FIRST_POLL_S = 0.01
_MAX_POLL_S = 0.1


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _split(chunk: bytes) -> Iterator[str]:
    """Lines of ``chunk`` (which ends with a newline), split on ``\\n`` only."""
    return iter(io.StringIO(_decode(chunk), newline="\n"))


def load_index(path: str, stream: str) -> tuple[list[int], list[float]]:
    """The (offsets, times) of ``stream`` in an attempt's time index; empty if none yet."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return [], []
    data = data[: len(data) - len(data) % INDEX_RECORD.size]  # a record being written
    code = STREAMS.index(stream)
    offsets: list[int] = []
    times: list[float] = []
    for offset, stamp, of_stream in INDEX_RECORD.iter_unpack(data):
        if of_stream == code:
            offsets.append(offset)
            times.append(stamp)
    return offsets, times


class LogCursor:
    """Reads one log file forward, yielding only whole lines."""

    def __init__(self, path: str, stream: str) -> None:
        self.path = path
        self.stream = stream
        self.fd: int | None = None
        self.pos = 0  # next byte to read
        self.buf = b""  # an incomplete line read so far
        self.skip = False  # drop bytes up to the next newline (a line begun before `since`)
        self.ended = False  # a line starting at or after `until` was reached

    def open(self) -> bool:
        try:
            self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        return True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def seek_since(self, index: str, since: float) -> None:
        """Start at the first line whose first byte was written at or after ``since``."""
        assert self.fd is not None
        size = os.fstat(self.fd).st_size  # before the index: its records precede their bytes
        offsets, times = load_index(index, self.stream)
        i = bisect_left(times, since)
        self.pos = offsets[i] if i < len(offsets) else size
        self.skip = self.pos > 0 and os.pread(self.fd, 1, self.pos - 1) != b"\n"

    def lines(self, hi: int | None, final: bool) -> Iterator[str]:
        """Whole lines now in the file that start before byte ``hi`` (all when None).

        With ``final`` the writer is done: a last line without newline is yielded too.
        """
        assert self.fd is not None
        while not self.ended:
            block = os.pread(self.fd, _BLOCK, self.pos)
            if not block:
                break
            self.pos += len(block)
            if self.skip:
                cut = block.find(b"\n") + 1
                if cut == 0:
                    continue
                block, self.skip = block[cut:], False
            data = self.buf + block if self.buf else block
            cut = data.rfind(b"\n") + 1
            self.buf = data[cut:]
            if cut == 0:
                continue
            start = self.pos - len(data)
            if hi is None or start + cut <= hi:
                yield from _split(data[:cut])
            else:
                yield from self._lines_before(data[:cut], start, hi)
        if final and self.buf and not self.ended and not self.skip:
            if hi is None or self.pos - len(self.buf) < hi:
                yield _decode(self.buf)
            self.buf = b""

    def _lines_before(self, chunk: bytes, start: int, hi: int) -> Iterator[str]:
        i = 0
        while i < len(chunk):
            if start + i >= hi:
                self.ended = True
                return
            j = chunk.index(b"\n", i) + 1
            yield _decode(chunk[i:j])
            i = j


def _until_offset(index: str, stream: str, until: float) -> int | None:
    """The first byte written after ``until``, None when there is none yet."""
    offsets, times = load_index(index, stream)
    i = bisect_right(times, until)
    return offsets[i] if i < len(offsets) else None


def attempt_lines(
    log: str,
    stream: str,
    index: str,
    is_done: Callable[[], bool],
    since: float | None,
    until: float | None,
    follow: bool,
) -> Generator[str, None, bool]:
    """Lines of one attempt's log; returns True once past ``until`` (nothing later matters)."""
    done = is_done()
    if done and since is None and until is None:
        if os.path.exists(log):  # an attempt that never started has no log
            with open(log, encoding="utf-8", errors="replace", newline="\n") as f:
                yield from f
        return False
    cursor = LogCursor(log, stream)
    try:
        return (yield from _follow(cursor, index, is_done, done, since, until, follow))
    finally:
        cursor.close()


def _follow(
    cursor: LogCursor,
    index: str,
    is_done: Callable[[], bool],
    done: bool,
    since: float | None,
    until: float | None,
    follow: bool,
) -> Generator[str, None, bool]:
    delay = _FIRST_POLL_S
    while not cursor.open():
        if done or not follow:
            return False
        time.sleep(delay)
        delay = min(delay * 2, _MAX_POLL_S)
        done = is_done()
    if since is not None:
        cursor.seek_since(index, since)
    while True:
        hi = _until_offset(index, cursor.stream, until) if until is not None else None
        before = cursor.pos
        yield from cursor.lines(hi, final=done)
        if cursor.ended:
            return True
        if done or not follow:
            return False
        if cursor.pos == before:
            time.sleep(delay)
            delay = min(delay * 2, _MAX_POLL_S)
        else:
            delay = _FIRST_POLL_S
        done = is_done()  # read before the next block: then that block is the last


def replica_state(app_dir: str, role_index: int, k: int) -> tuple[dict[str, Any] | None, bool]:
    """The replica's entry in the (settled) state, and whether the app is terminal."""
    state = settle_state(app_dir, read_state(app_dir))
    if state is None:
        return None, True
    return state["roles"][role_index]["replicas"][k], state["state"] in TERMINAL


def replica_lines(
    app_dir: str,
    replica_log_dir: str,
    where: tuple[int, int],
    stream: str,
    since: float | None,
    until: float | None,
    follow: bool,
    attempt: int | None,
) -> Iterator[str]:
    """Lines of replica ``where`` = (role index, replica id): one attempt, or all in order.

    Following every attempt stops once the replica is terminal (or the app
    is) and its last attempt is read; a replica waiting for a retry is followed on.
    """
    a = attempt if attempt is not None else 0
    while True:

        def is_done(a: int = a) -> bool:
            rep, app_over = replica_state(app_dir, *where)
            if rep is None or app_over:
                return True
            return bool(rep["attempt"] > a or (rep["attempt"] == a and rep["attempt_done"]))

        log = log_path(replica_log_dir, a, stream)
        try:  # around the whole delegation: no cost per line
            past_until = yield from attempt_lines(
                log, stream, index_path(replica_log_dir, a), is_done, since, until, follow
            )
        except (OSError, ValueError) as err:
            raise BackendError(f"cannot read {log}: {err}") from None
        if past_until or attempt is not None:
            return
        if not _next_attempt_exists(app_dir, where, a, follow):
            return
        a += 1


def _next_attempt_exists(app_dir: str, where: tuple[int, int], a: int, follow: bool) -> bool:
    """Whether attempt ``a + 1`` exists; when following, wait while one may still come."""
    delay = _FIRST_POLL_S
    while True:
        rep, app_over = replica_state(app_dir, *where)
        if rep is not None and rep["attempt"] > a:
            return True
        if not follow or rep is None or app_over or rep["state"] in TERMINAL:
            return False
        time.sleep(delay)
        delay = min(delay * 2, _MAX_POLL_S)
