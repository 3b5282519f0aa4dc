"""Job and Pod objects (as the API's JSON dicts) to an AppStatus.

Pure functions over what two label-selected list calls return (the app's Jobs
and its Pods), so a status costs two API calls whatever the replica count, and
the mapping is tested on recorded objects without a cluster.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from torchrun_core.schedulers.kubernetes.manifests import (
    LABEL_APP,
    LABEL_APP_NAME,
    LABEL_REPLICA,
    LABEL_ROLE,
    LABEL_ROLE_INDEX,
)
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus, ReplicaStatus, RoleStatus, stopped_after

JOBSET_INDEX_LABEL = "jobset.sigs.k8s.io/job-index"
_POD_STATES = {
    "Pending": AppState.PENDING,
    "Running": AppState.RUNNING,
    "Succeeded": AppState.SUCCEEDED,
    "Failed": AppState.FAILED,
}


def parse_time(text: str | None) -> float | None:
    """Unix time of an RFC 3339 timestamp like ``2026-11-21T20:00:00Z``."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = obj.get("metadata", {}).get("labels") or {}
    return labels


def _condition(job: dict[str, Any]) -> str | None:
    """ "Complete" or "Failed" when the Job has ended, else None."""
    for cond in job.get("status", {}).get("conditions") or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed"):
            return str(cond["type"])
    return None


def _terminated(pod: dict[str, Any]) -> dict[str, Any]:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        term = (status.get("state") or {}).get("terminated")
        if term:
            return dict(term)
    return {}


def replica_status(job: dict[str, Any], pods: list[dict[str, Any]]) -> ReplicaStatus:
    """One replica from its Job and the Job's pods (one per attempt, oldest first)."""
    labels = _labels(job)
    ended = _condition(job)
    last = pods[-1] if pods else None
    term = _terminated(last) if last else {}
    if job.get("metadata", {}).get("deletionTimestamp"):
        state = AppState.CANCELLED
    elif ended == "Complete":
        state = AppState.SUCCEEDED
    elif ended == "Failed":
        state = AppState.FAILED
    elif last is None:
        # No pods read (``list`` reads Jobs only): the Job's counters tell.
        state = AppState.RUNNING if job.get("status", {}).get("active") else AppState.SUBMITTED
    elif job.get("spec", {}).get("suspend"):
        state = AppState.PENDING  # waiting for Kueue to admit it
    else:
        state = _POD_STATES.get(last.get("status", {}).get("phase", ""), AppState.UNKNOWN)
        if state.is_terminal:
            state = AppState.PENDING  # the Job controller is about to make the next attempt
    message = term.get("reason", "") if state == AppState.FAILED else ""
    return ReplicaStatus(
        id=int(labels.get(LABEL_REPLICA, labels.get(JOBSET_INDEX_LABEL, "0"))),
        role=labels.get(LABEL_ROLE, ""),
        state=state,
        exit_code=term.get("exitCode"),
        hostname=(last or {}).get("status", {}).get("podIP") or "",
        attempt=max(0, len(pods) - 1),
        started_at=parse_time(term.get("startedAt")) if term else None,
        finished_at=parse_time(term.get("finishedAt")) if term else None,
        message=message,
    )


def app_state(states: list[AppState]) -> AppState:
    """The app's state from its replicas': any failure fails it, all successes succeed it."""
    if not states:
        return AppState.UNKNOWN
    # A failure wins: a failed app's siblings read CANCELLED while they are stopped.
    for terminal in (AppState.FAILED, AppState.CANCELLED):
        if terminal in states:
            return terminal
    if all(s == AppState.SUCCEEDED for s in states):
        return AppState.SUCCEEDED
    if AppState.RUNNING in states or AppState.SUCCEEDED in states:
        return AppState.RUNNING
    return AppState.PENDING if AppState.PENDING in states else AppState.SUBMITTED


def _mark_killed(roles: dict[tuple[int, str], list[ReplicaStatus]]) -> None:
    """Say why replicas are being deleted once another replica has failed.

    The status path deletes the surviving Jobs of a failed app (``jobs_to_stop``);
    while they go they carry a deletionTimestamp and read CANCELLED: they did
    not fail, they were stopped (the app still reads FAILED, see :func:`app_state`).
    """
    replicas = [r for rs in roles.values() for r in rs]
    cause = next((r for r in replicas if r.state == AppState.FAILED), None)
    if cause is None:
        return
    for rs in roles.values():
        for i, r in enumerate(rs):
            if r.state == AppState.CANCELLED:
                rs[i] = r.model_copy(update={"message": stopped_after(cause)})


def jobs_to_stop(jobs: list[dict[str, Any]]) -> list[str]:
    """Names of the plain Jobs still going (no end condition, not being deleted)."""
    return [
        job["metadata"]["name"]
        for job in jobs
        if _condition(job) is None
        and not job["metadata"].get("deletionTimestamp")
        and not job["metadata"].get("ownerReferences")  # a JobSet's Jobs: its controller's
    ]


def app_status(jobs: list[dict[str, Any]], pods: list[dict[str, Any]]) -> AppStatus | None:
    """The app's status from its Jobs and Pods; None when it has no Job."""
    if not jobs:
        return None
    by_job: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        by_job.setdefault(_labels(pod).get("job-name", ""), []).append(pod)
    for attempts in by_job.values():
        attempts.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
    roles: dict[tuple[int, str], list[ReplicaStatus]] = {}
    for job in jobs:
        replica = replica_status(job, by_job.get(job["metadata"]["name"], []))
        index = int(_labels(job).get(LABEL_ROLE_INDEX, "0"))
        roles.setdefault((index, replica.role), []).append(replica)
    _mark_killed(roles)
    replicas = [r for rs in roles.values() for r in rs]
    state = app_state([r.state for r in replicas])
    failed = [r for r in replicas if r.state == AppState.FAILED]
    message = ""
    if failed:
        killed = [f"{r.role}[{r.id}]" for r in replicas if r.state == AppState.CANCELLED]
        first = failed[0]
        ended = "failed" if first.exit_code is None else f"exited with {first.exit_code}"
        message = f"{first.role}[{first.id}] {ended} {first.message}".strip()
        if killed:
            message += f"; stopped {', '.join(killed)}"
    created = [parse_time(j["metadata"].get("creationTimestamp")) for j in jobs]
    return AppStatus(
        state=state,
        num_restarts=sum(r.attempt for r in replicas),
        message=message,
        roles=[
            RoleStatus(role=role, replicas=sorted(rs, key=lambda r: r.id))
            for (_, role), rs in sorted(roles.items())
        ],
        created_at=min((c for c in created if c is not None), default=None),
    )


def group_jobs(jobs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Jobs by app id (``list``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for job in jobs:
        out.setdefault(_labels(job).get(LABEL_APP, ""), []).append(job)
    out.pop("", None)
    return out


def app_name(jobs: list[dict[str, Any]]) -> str:
    return _labels(jobs[0]).get(LABEL_APP_NAME, "") if jobs else ""
