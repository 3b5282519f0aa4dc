"""Following a pod's log through API server outages.

A followed log is one long HTTP stream through the API server: a restart of
the server breaks it (or ends it early), while the pod runs on. The follower
then opens the stream again, with backoff, and skips the lines it gave
already by their timestamps, for up to :data:`OUTAGE_LIMIT_S` seconds of
continuous outage, as ``wait`` does.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from typing import Any

from torchrun_core.errors import AppNotFoundError, SchedulerUnavailableError
from torchrun_core.schedulers.kubernetes.errors import REQUEST_TIMEOUT, translated

OUTAGE_LIMIT_S = 300.0
_FIRST_RETRY_S = 0.5
_MAX_RETRY_S = 10.0


def stamp_ns(line: str) -> int | None:
    """The nanosecond unix time of a line's RFC 3339 timestamp (``timestamps=True``)."""
    stamp = line.partition(" ")[0].rstrip("Z")
    head, _, frac = stamp.partition(".")
    try:
        seconds = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    digits = (frac + "000000000")[:9]
    return seconds * 1_000_000_000 + int(digits) if digits.isdigit() else None


def followed_lines(core: Any, namespace: str, name: str) -> Iterator[str]:
    """The timestamped lines of pod ``name``'s log, followed until its container ends.

    Raises:
        SchedulerUnavailableError: the API server did not answer for
            ``OUTAGE_LIMIT_S`` seconds.
        AppNotFoundError: the pod was deleted before its log could be read.
    """
    seen: int | None = None  # the stamp of the last line given
    failing_since: float | None = None
    delay = _FIRST_RETRY_S
    while True:
        tail: list[str] = []
        try:
            for line in _stream(core, namespace, name, tail):
                stamp = stamp_ns(line)
                if seen is not None and stamp is not None and stamp <= seen:
                    continue  # given before the stream was opened again
                seen = stamp if stamp is not None else seen
                failing_since, delay = None, _FIRST_RETRY_S
                yield line
            if _ended(core, namespace, name):
                yield from tail  # the log's last line, without its newline
                return
        except SchedulerUnavailableError:
            now = time.monotonic()
            failing_since = failing_since or now
            if now - failing_since > OUTAGE_LIMIT_S:
                raise
        # Broken off, or ended while the container runs on (a server shutting down).
        time.sleep(delay)
        delay = min(delay * 2, _MAX_RETRY_S)


def _stream(core: Any, namespace: str, name: str, tail: list[str]) -> Iterator[str]:
    """The stream's whole lines; a last piece without a newline goes to ``tail``.

    That piece is a whole line only if the container has ended; if the stream
    was cut instead, the line comes again, whole, when it is opened again.
    """
    with translated(f"logs of pod {name}"):
        response = core.read_namespaced_pod_log(
            name, namespace, timestamps=True, follow=True, _preload_content=False
        )
    pending = b""
    try:
        with translated(f"logs of pod {name}"):  # a stream cut short: unavailable
            for chunk in response.stream(64 * 1024):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace") + "\n"
    finally:
        response.release_conn()
    if pending:
        tail.append(pending.decode("utf-8", "replace") + "\n")


def _ended(core: Any, namespace: str, name: str) -> bool:
    """Whether the pod's container has ended (or the pod is gone): its log is complete."""
    from torchrun_core.schedulers.kubernetes.client import read_json

    try:
        with translated(f"logs of pod {name}"):
            answer = core.read_namespaced_pod(
                name, namespace, _preload_content=False, _request_timeout=REQUEST_TIMEOUT
            )
            pod = read_json(answer)
    except AppNotFoundError:
        return True
    status = (pod or {}).get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    states = [c.get("state") or {} for c in status.get("containerStatuses") or []]
    return bool(states) and all("terminated" in s for s in states)
