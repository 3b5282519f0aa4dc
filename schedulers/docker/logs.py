"""Whole log lines of a docker replica, through the daemon's log stream with timestamps.

Every log entry arrives as one frame, ``<RFC 3339 nano timestamp> <text>``,
behind the Engine API's 8-byte stream header (stdout or stderr). A line
longer than the daemon's buffer (16 KiB) comes as several entries, of which
only the last ends with a newline: entries are joined, per stream, until one
does, so that a line is never split. Per stream matters: the daemon copies
the two pipes apart, so the other stream's entries can fall between the
pieces of a long line (the SDK's ``logs`` drops the header, which is why the
frames are read here). The timestamp of a line's first entry decides
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

from torchrun_core.schedulers.shared.docker_daemon import translated

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
        # Per stream (1 stdout, 2 stderr): the start of a line whose end has
        # not arrived, and the time of its first piece.
        self.pending: dict[int, bytes] = {}
        self.pending_ns: dict[int, int] = {}

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
        params: dict[str, str | int] = {
            "stdout": int(streams[0]), "stderr": int(streams[1]), "timestamps": 1,
            "follow": int(follow), "tail": "all",
            "since": f"{since_ns / 1e9:.9f}" if since_ns else 0,
        }  # fmt: skip
        if until_ns is not None:
            params["until"] = f"{until_ns / 1e9 + 1:.9f}"
        skip = self.consumed
        with translated(address, doing):
            for stream, frame in log_frames(client, self.container_id, params):
                if skip:
                    skip -= 1
                    continue
                self.consumed += 1
                stamp, _, text = frame.partition(b" ")
                if stream not in self.pending:
                    self.pending[stream], self.pending_ns[stream] = b"", timestamp_ns(stamp)
                self.pending[stream] += text
                if not text.endswith(b"\n"):
                    continue  # a piece of a long line: the rest follows on this stream
                line, started = self.pending.pop(stream), self.pending_ns.pop(stream)
                if since_ns is not None and started < since_ns:
                    continue
                if until_ns is not None and started > until_ns:
                    continue
                yield line.decode("utf-8", "replace")

    def flush(self) -> Iterator[str]:
        """The last lines when the container ended without a newline."""
        for stream in sorted(self.pending):
            line = self.pending.pop(stream)
            self.pending_ns.pop(stream, None)
            if line:
                yield line.decode("utf-8", "replace") + "\n"


def log_frames(
    client: APIClient, container_id: str, params: dict[str, str | int]
) -> Iterator[tuple[int, bytes]]:
    """``(stream, payload)`` of each frame of the container's log (1 stdout, 2 stderr).

    The Engine API's multiplexed stream: an 8-byte header (stream, three
    zero bytes, big-endian payload size) before each payload.
    """
    import struct

    import requests
    from docker.errors import create_api_error_from_http_exception

    url = f"{client.base_url}/v{client.api_version}/containers/{container_id}/logs"
    response = client.get(url, params=params, stream=True)
    try:
        try:
            response.raise_for_status()
        except requests.HTTPError as err:
            create_api_error_from_http_exception(err)  # raises docker's own error
        while True:
            header = response.raw.read(8)
            if len(header) < 8:
                return
            stream, size = struct.unpack(">BxxxL", header)
            payload = response.raw.read(size) if size else b""
            if size and not payload:
                return
            yield stream, payload
    finally:
        response.close()


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
