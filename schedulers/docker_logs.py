"""Whole log lines of a docker replica, through the daemon's log stream with timestamps.

Every log entry arrives as one frame, ``<RFC 3339 nano timestamp> <text>``.
A line longer than the daemon's buffer (16 KiB) comes as several entries, of
which only the last ends with a newline: entries are joined until one does,
so that a line is never split. The timestamp of a line's first entry decides
``since``/``until`` (both inclusive), to the nanosecond.

A replica retried by the supervisor has one container per attempt; with no
``attempt`` given, they are read oldest first. Following (``should_tail``)
goes on across new attempts until the app ends.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torchrun_core.schedulers.docker_client import translated

if TYPE_CHECKING:
    from docker import APIClient

LIVE_STATES = ("created", "running", "restarting", "paused")
# The longest a follower waits (for a replica to start, a retry's new container,
# or the app's end) before looking again, should it miss an event.
_RECHECK_S = 1.0


@dataclass(frozen=True)
class AttemptContainer:
    """One container of a replica: its attempt number, id and engine state."""

    attempt: int
    container_id: str
    state: str


def timestamp_ns(text: bytes) -> int:
    """Unix nanoseconds of ``2026-01-02T03:04:05.123456789Z`` (the daemon always sends UTC)."""
    seconds = calendar.timegm(
        (int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
         int(text[14:16]), int(text[17:19]), 0, 0, 0)
    )  # fmt: skip
    fraction = text[20:].rstrip(b"Z") if text[19:20] == b"." else b""
    return seconds * 1_000_000_000 + int(fraction.ljust(9, b"0")[:9] or b"0")


class ContainerCursor:
    """Reads one container's log, and picks up where it left off when read again.

    Entries are counted, not compared by time: the two streams' entries are
    not in timestamp order, so a time would both skip and repeat some.
    """

    def __init__(self, container_id: str) -> None:
        self.container_id = container_id
        self.consumed = 0  # entries read so far, with the same since/until
        self.pending = b""  # the start of a line whose end has not arrived
        self.pending_ns = 0

    def lines(
        self,
        client: APIClient,
        address: str,
        streams: tuple[bool, bool],
        window: tuple[int | None, int | None],
        follow: bool,
    ) -> Iterator[str]:
        """The whole lines logged so far (following: until the container stops)."""
        since_ns, until_ns = window
        doing = f"read the logs of container {self.container_id[:12]}"
        with translated(address, doing):
            frames = client.logs(
                self.container_id, stdout=streams[0], stderr=streams[1], stream=True,
                timestamps=True, follow=follow,
                since=since_ns / 1e9 if since_ns else None,
                until=until_ns / 1e9 + 1 if until_ns is not None else None,
            )  # fmt: skip
        skip = self.consumed
        with translated(address, doing):
            for frame in frames:
                if skip:
                    skip -= 1
                    continue
                self.consumed += 1
                stamp, _, text = frame.partition(b" ")
                if not self.pending:
                    self.pending_ns = timestamp_ns(stamp)
                self.pending += text
                if not text.endswith(b"\n"):
                    continue  # a piece of a long line: the rest follows
                line, self.pending = self.pending, b""
                if since_ns is not None and self.pending_ns < since_ns:
                    continue
                if until_ns is not None and self.pending_ns > until_ns:
                    continue
                yield line.decode("utf-8", "replace")

    def flush(self) -> Iterator[str]:
        """The last line when the container ended without a newline."""
        if self.pending:
            line, self.pending = self.pending, b""
            yield line.decode("utf-8", "replace") + "\n"


def replica_lines(
    client: APIClient,
    address: str,
    containers: Callable[[], list[AttemptContainer]],
    app_done: Callable[[], bool],
    streams: tuple[bool, bool],
    window: tuple[float | None, float | None],
    should_tail: bool,
    attempt: int | None,
    pause: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Whole lines of one replica's attempts, in order.

    Args:
        containers: the replica's containers now, oldest attempt first.
        app_done: whether the app has ended (following stops then).
        streams: ``(stdout, stderr)``.
        window: ``(since, until)`` in unix seconds, inclusive.
        pause: blocks up to the given seconds while following, until the app may
            have changed (a watcher's ``wait``).
    """
    since, until = window
    ns_window = (
        None if since is None else int(since * 1e9),
        None if until is None else int(until * 1e9),
    )
    cursors: dict[int, ContainerCursor] = {}
    finished: set[int] = set()
    while True:
        found = [c for c in containers() if attempt is None or c.attempt == attempt]
        for c in found:
            if c.attempt in finished:
                continue
            follow = should_tail and c.state in LIVE_STATES
            cursor = cursors.setdefault(c.attempt, ContainerCursor(c.container_id))
            yield from cursor.lines(client, address, streams, ns_window, follow)
            if follow and c.state == "created":
                break  # not started yet: its followed stream ended at once; look again
            # Read to its end (a followed stream ends when the container stops).
            yield from cursor.flush()
            finished.add(c.attempt)
        if not should_tail or (len(finished) == len(found) and app_done()):
            return
        if until is not None and time.time() > until:
            return
        pause(_RECHECK_S)
