"""Pod logs as whole lines: timestamps for since/until, follow until the pod ends.

Kubernetes merges a container's stdout and stderr into one log, so only the
combined stream exists; asking for one of them is refused clearly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.scheduler import Stream
from torchrun_core.schedulers.kubernetes.client import items
from torchrun_core.schedulers.kubernetes.errors import translated
from torchrun_core.schedulers.kubernetes.follow import followed_lines
from torchrun_core.schedulers.kubernetes.manifests import (
    LABEL_APP,
    LABEL_REPLICA,
    LABEL_ROLE,
    dns_label,
)
from torchrun_core.schedulers.kubernetes.state import JOBSET_INDEX_LABEL, parse_time

# How long a followed replica whose Job has no pod yet is waited for.
_FIRST_POD_S = 60.0


def whole_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines (each ending with a newline) from byte chunks cut anywhere."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace") + "\n"
    if pending:
        yield pending.decode("utf-8", "replace") + "\n"


def timed_lines(lines: Iterable[str], since: float | None, until: float | None) -> Iterator[str]:
    """Strip each line's RFC 3339 timestamp, keeping lines within [since, until]."""
    for line in lines:
        stamp, sep, text = line.partition(" ")
        if not sep:
            stamp, text = "", line
        at = _time(stamp)
        if at is not None and ((since is not None and at < since) or (
                until is not None and at > until)):  # fmt: skip
            continue
        yield text if text.endswith("\n") else text + "\n"


def _time(stamp: str) -> float | None:
    # Nanosecond precision: fromisoformat takes at most microseconds.
    head, dot, frac = stamp.rstrip("Z").partition(".")
    try:
        return parse_time(f"{head}.{frac[:6]}Z" if dot else f"{head}Z")
    except ValueError:
        return None


def replica_pods(
    client: Any, namespace: str, app_id: str, role: str, k: int
) -> list[dict[str, Any]]:
    """The pods of replica ``k`` of ``role``, one per attempt, oldest first."""
    from kubernetes.client import CoreV1Api

    selector = f"{LABEL_APP}={app_id},{LABEL_ROLE}={dns_label(role, 63)}"
    with translated(f"logs of {app_id}"):
        pods = items(CoreV1Api(client).list_namespaced_pod(
            namespace, label_selector=selector, _preload_content=False))  # fmt: skip

    def replica(pod: dict[str, Any]) -> str:
        labels = pod["metadata"].get("labels") or {}
        return str(labels.get(LABEL_REPLICA, labels.get(JOBSET_INDEX_LABEL, "")))

    mine = [p for p in pods if replica(p) == str(k)]
    return sorted(mine, key=lambda p: p["metadata"].get("creationTimestamp") or "")


def _first_pods(
    client: Any, namespace: str, app_id: str, role: str, k: int
) -> list[dict[str, Any]]:
    """The pods of replica ``k`` once its Job has made one; [] if it has no Job.

    Following a just-submitted app (``run --wait``) may come before the Job
    controller made the pod (about 0.4 s, longer on a busy cluster).
    """
    from kubernetes.client import BatchV1Api

    selector = f"{LABEL_APP}={app_id},{LABEL_ROLE}={dns_label(role, 63)},{LABEL_REPLICA}={k}"
    with translated(f"logs of {app_id}"):
        jobs = items(BatchV1Api(client).list_namespaced_job(
            namespace, label_selector=selector, _preload_content=False))  # fmt: skip
    deadline = time.monotonic() + _FIRST_POD_S
    delay = 0.1
    while jobs and time.monotonic() < deadline:
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
        pods = replica_pods(client, namespace, app_id, role, k)
        if pods:
            return pods
    return []


def replica_lines(
    client: Any,
    namespace: str,
    app_id: str,
    role: str,
    k: int,
    *,
    since: float | None,
    until: float | None,
    follow: bool,
    streams: Stream,
    attempt: int | None,
) -> Iterator[str]:
    """Log lines of replica ``k`` (one attempt, or all in order); follows the last one.

    Raises:
        InvalidInputError: stdout or stderr alone, an unknown role/replica, or no such attempt.
    """
    if streams != Stream.COMBINED:
        raise InvalidInputError(
            f"kubernetes keeps one log per container: {streams.value} alone is not available",
            hint="read the combined log (omit --streams)",
        )
    pods = replica_pods(client, namespace, app_id, role, k)
    if not pods and follow:
        pods = _first_pods(client, namespace, app_id, role, k)
    if not pods:
        raise InvalidInputError(f"app {app_id}: no pod for role {role!r} replica {k}")
    if attempt is not None:
        if not 0 <= attempt < len(pods):
            raise InvalidInputError(f"replica {k} has {len(pods)} attempt(s); no attempt {attempt}")
        pods = [pods[attempt]]
    return _lines(client, namespace, pods, since, until, follow)


def _lines(
    client: Any,
    namespace: str,
    pods: list[dict[str, Any]],
    since: float | None,
    until: float | None,
    follow: bool,
) -> Iterator[str]:
    from kubernetes.client import CoreV1Api

    core: Any = CoreV1Api(client)  # raw responses: the typed signature says str
    for i, pod in enumerate(pods):
        name = pod["metadata"]["name"]
        last = follow and i == len(pods) - 1
        # A pending pod has no log yet: following waits for it to start; a plain
        # read yields nothing for it.
        if _phase(pod) in ("", "Pending") and not (last and _started(core, namespace, name)):
            continue
        if last:  # through API server restarts too
            yield from timed_lines(followed_lines(core, namespace, name), since, until)
            continue
        with translated(f"logs of pod {name}"):
            response = core.read_namespaced_pod_log(
                name, namespace, timestamps=True, _preload_content=False
            )
        try:
            with translated(f"logs of pod {name}"):  # a read cut short: unavailable
                yield from timed_lines(whole_lines(response.stream(64 * 1024)), since, until)
        finally:
            response.release_conn()


def _phase(pod: dict[str, Any]) -> str:
    return str(pod.get("status", {}).get("phase", ""))


def _started(core: Any, namespace: str, name: str) -> bool:
    """Wait (watch) until pod ``name`` leaves Pending; False if it is deleted first."""
    from kubernetes import watch as watch_module

    watch: Any = watch_module  # the SDK leaves Watch untyped
    selector = f"metadata.name={name}"
    while True:
        with translated(f"logs of pod {name}"):
            for event in watch.Watch().stream(
                core.list_namespaced_pod, namespace, field_selector=selector,
                timeout_seconds=60, deserialize=False,
            ):  # fmt: skip
                if event["type"] == "DELETED":
                    return False
                if _phase(event.get("object") or {}) not in ("", "Pending"):
                    return True
