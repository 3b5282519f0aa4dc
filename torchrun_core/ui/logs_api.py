"""A replica's log: a page of whole lines, and a live stream of the lines after it.

``/api/run/logs`` answers one page (``offset``/``limit``, or the last
``tail`` lines with the total), so that a million-line log never reaches
the browser at once. ``/api/run/logs/stream`` is a server-sent event stream:
``lines`` events carry JSON lists of new lines (after the first ``skip``),
``end`` says the replica's output is complete, ``failure`` carries an error.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse

from torchrun_core.errors import InvalidInputError, TorchrunCoreError
from torchrun_core.scheduler import Stream
from torchrun_core.specs.replicas import replicas_of, replicas_of_status
from torchrun_core.ui import params
from torchrun_core.ui.http_errors import error_body
from torchrun_core.ui.line_feed import LineFeed

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.runstore.record import RunRecord

PAGE_LINES = 1000
MAX_PAGE_LINES = 10_000
STREAMS = tuple(s.value for s in Stream)


def replicas_of_record(record: RunRecord) -> list[dict[str, Any]]:
    """Every replica of the run: from its spec, else from its scheduler's status."""
    if record.app is not None:
        refs = replicas_of(record.app)
    elif record.status is not None:
        refs = replicas_of_status(record.status)
    else:
        refs = []
    return [{"role": ref.role, "replica": ref.replica} for ref in refs]


def _strip(line: str) -> str:
    return line[:-1] if line.endswith("\n") else line


class LogsApi:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.feeds: set[LineFeed] = set()

    def close_streams(self) -> None:
        """End every open stream: the server is stopping and must not wait for them."""
        for feed in list(self.feeds):
            feed.stop()

    def _lines(self, request: Request, follow: bool) -> Iterator[str]:
        """The replica's lines, after checking that the role and replica exist.

        Only names the run's spec (or status) lists are passed on: a role such
        as ``../../etc`` never reaches a scheduler's file paths.
        """
        handle = params.handle(request)
        role = params.text(request, "role")
        replica = params.integer(request, "replica", 0)
        known = replicas_of_record(self.runner.describe(handle))
        if role is None and known:
            role = known[0]["role"]
        if {"role": role, "replica": replica} not in known:
            listed = ", ".join(f"{r['role']}/{r['replica']}" for r in known) or "none"
            raise InvalidInputError(
                f"run {handle} has no replica {role}/{replica}", hint=f"its replicas: {listed}"
            )
        streams = params.text(request, "streams")
        if streams is not None and streams not in STREAMS:
            raise InvalidInputError(
                f"unknown streams {streams!r}", hint=f"use {', '.join(STREAMS)}"
            )
        return self.runner.log_lines(
            handle,
            role,
            replica or 0,
            regex=params.text(request, "regex"),
            should_tail=follow,
            streams=Stream(streams) if streams else None,
            attempt=params.integer(request, "attempt", None),
        )

    def page(self, request: Request) -> JSONResponse:
        tail = params.integer(request, "tail", None, 1, MAX_PAGE_LINES)
        lines = self._lines(request, follow=False)
        if tail is not None:
            total = 0
            last: deque[str] = deque(maxlen=tail)
            for line in lines:
                last.append(line)
                total += 1
            return JSONResponse(
                {"lines": [_strip(x) for x in last], "start": total - len(last), "total": total}
            )
        offset = params.integer(request, "offset", 0) or 0
        limit = params.integer(request, "limit", PAGE_LINES, 1, MAX_PAGE_LINES) or PAGE_LINES
        window = list(islice(lines, offset, offset + limit + 1))
        return JSONResponse(
            {
                "lines": [_strip(x) for x in window[:limit]],
                "start": offset,
                "more": len(window) > limit,
            }
        )

    def stream(self, request: Request) -> StreamingResponse:
        skip = params.integer(request, "skip", 0) or 0
        feed = LineFeed(self._lines(request, follow=True), skip=skip)
        return StreamingResponse(
            _events(feed, self.feeds),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )


async def _events(feed: LineFeed, feeds: set[LineFeed]) -> AsyncIterator[str]:
    feeds.add(feed)
    try:
        yield ": connected\n\n"  # the browser knows at once that the stream is open
        async for batch in feed.batches():
            yield f"event: lines\ndata: {json.dumps([_strip(x) for x in batch])}\n\n"
    except TorchrunCoreError as err:
        yield f"event: failure\ndata: {json.dumps(error_body(err))}\n\n"
        return
    finally:
        feeds.discard(feed)
        feed.stop()
    if not feed.stopped_early:
        yield "event: end\ndata: {}\n\n"
