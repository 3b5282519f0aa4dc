"""An app's state, derived from its containers' labels and states alone.

Input is what one ``GET /containers/json?all=1&filters=label...`` returns:
per container its labels, ``State`` and ``Status`` ("Exited (1) 3 seconds
ago"), so that a status costs one API call however many replicas there are.
Every replica's current container is its highest attempt; older attempts
stay (stopped) for their logs. The supervisor (``supervisor``) uses
the same :func:`app_view` to decide what to retry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from torchrun_core.schedulers.docker.plan import (
    LABEL_APP,
    LABEL_APP_NAME,
    LABEL_ATTEMPT,
    LABEL_MAX_RETRIES,
    LABEL_NUM_REPLICAS,
    LABEL_REPLICA,
    LABEL_RETRY_POLICY,
    LABEL_ROLE,
    LABEL_ROLE_INDEX,
)
from torchrun_core.specs.state import AppState

_EXITED_RE = re.compile(r"^Exited \((-?\d+)\)")
_STOPPED_CODES = (128 + 15, 128 + 9)
_RUNNING = {"running": "", "restarting": "restarting", "paused": "paused"}


@dataclass
class ReplicaView:
    """One replica as its current container shows it (``container`` is None once gone)."""

    role: str
    replica_id: int
    state: AppState
    attempt: int = 0
    exit_code: int | None = None
    message: str = ""
    container: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return f"{self.role}/{self.replica_id}"


@dataclass
class RoleView:
    """One role: its retry settings (from labels) and replicas in id order."""

    name: str
    index: int
    num_replicas: int
    max_retries: int
    retry_policy: str
    replicas: list[ReplicaView] = field(default_factory=list)

    def retries_used(self) -> int:
        # Each REPLICA retry moves one replica up an attempt; the other policies
        # move the whole role (or app) together.
        attempts = [r.attempt for r in self.replicas]
        if self.retry_policy == "REPLICA":
            return sum(attempts)
        return max(attempts, default=0)

    def can_retry(self) -> bool:
        return self.retries_used() < self.max_retries


@dataclass
class AppView:
    """An app's state, its roles and what went wrong, if anything."""

    app_id: str
    app_name: str
    state: AppState
    roles: list[RoleView]
    message: str = ""
    created_at: float | None = None
    failed: list[ReplicaView] = field(default_factory=list)

    @property
    def num_restarts(self) -> int:
        return max((r.attempt for role in self.roles for r in role.replicas), default=0)

    def role(self, name: str) -> RoleView | None:
        return next((r for r in self.roles if r.name == name), None)


def container_state(summary: dict[str, Any]) -> tuple[AppState, int | None, str]:
    """One container's state, exit code and a short message, from its list entry."""
    state = summary.get("State", "")
    if state in _RUNNING:
        return AppState.RUNNING, None, _RUNNING[state]
    if state == "created":
        return AppState.PENDING, None, "created"
    if state == "exited":
        match = _EXITED_RE.match(summary.get("Status", ""))
        code = int(match[1]) if match else None
        if code == 0:
            return AppState.SUCCEEDED, 0, ""
        return AppState.FAILED, code, f"exited with {code}"
    if state == "removing":
        return AppState.CANCELLED, None, "being removed"
    return AppState.FAILED, None, f"container {state or 'in an unknown state'}"


def group_by_app(containers: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Container list entries by app id, in the order given."""
    apps: dict[str, list[dict[str, Any]]] = {}
    for summary in containers:
        app_id = (summary.get("Labels") or {}).get(LABEL_APP)
        if app_id:
            apps.setdefault(app_id, []).append(summary)
    return apps


def app_view(
    app_id: str,
    containers: list[dict[str, Any]],
    supervised: Callable[[], bool],
    cancelling: bool = False,
    failure: str | None = None,
) -> AppView | None:
    """The app's state from its containers; None when it has none left.

    Args:
        supervised: says whether the app's supervisor is alive, asked only
            when a retry is pending (it alone makes retries).
        cancelling: a cancel is under way: the app is CANCELLED whatever its
            containers say while they stop.
        failure: why the supervisor gave the app up (a retry could not
            start): the app is FAILED with this message.
    """
    if not containers:
        return None
    roles = _roles(containers)
    view = AppView(
        app_id,
        (containers[0].get("Labels") or {}).get(LABEL_APP_NAME, ""),
        AppState.UNKNOWN,
        roles,
        created_at=min(float(c.get("Created", 0)) for c in containers),
    )
    replicas = [r for role in roles for r in role.replicas]
    # A replica stopped because another failed shows SIGTERM's or SIGKILL's exit
    # code: name a replica that failed by itself first.
    failed = [r for r in replicas if r.state is AppState.FAILED]
    view.failed = sorted(failed, key=lambda r: r.exit_code in _STOPPED_CODES)
    if cancelling:
        view.state, view.message = AppState.CANCELLED, "cancelled"
    elif failure:
        view.state, view.message = AppState.FAILED, failure
    elif view.failed:
        _failed_state(view, supervised)
    else:
        _unfailed_state(view, replicas, supervised)
    return view


def _unfailed_state(
    view: AppView, replicas: list[ReplicaView], supervised: Callable[[], bool]
) -> None:
    """The state of an app none of whose current containers failed."""
    if (stuck := _never_started(replicas)) is not None and not supervised():
        # Only a supervisor's retry creates a later attempt, and it starts it at
        # once: without the supervisor, nothing ever will.
        view.state = AppState.FAILED
        view.message = f"{stuck.name} attempt {stuck.attempt} was created but never started"
    elif any(r.container is None for r in replicas):
        gone = next(r for r in replicas if r.container is None)
        if supervised():
            view.state, view.message = AppState.PENDING, f"{gone.name} is being restarted"
        else:
            view.state, view.message = AppState.FAILED, f"the container of {gone.name} is gone"
    elif all(r.state is AppState.SUCCEEDED for r in replicas):
        view.state = AppState.SUCCEEDED
    elif any(r.state is AppState.RUNNING for r in replicas):
        view.state = AppState.RUNNING
    elif any(r.state is AppState.CANCELLED for r in replicas):
        view.state, view.message = AppState.CANCELLED, "its containers are being removed"
    else:
        view.state = AppState.PENDING


def _failed_state(view: AppView, supervised: Callable[[], bool]) -> None:
    first = view.failed[0]
    retryable = all(_role_of(view, r).can_retry() for r in view.failed)
    if retryable and supervised():
        view.state = AppState.RUNNING
        view.message = f"{first.name} {first.message}; restarting"
    else:
        view.state = AppState.FAILED
        view.message = f"{first.name} {first.message}"


def _never_started(replicas: list[ReplicaView]) -> ReplicaView | None:
    """The first replica whose retry container was created but not started."""
    for r in replicas:
        if r.attempt > 0 and r.container is not None and r.container.get("State") == "created":
            return r
    return None


def _role_of(view: AppView, replica: ReplicaView) -> RoleView:
    role = view.role(replica.role)
    assert role is not None  # replicas come from the roles
    return role


def _roles(containers: list[dict[str, Any]]) -> list[RoleView]:
    """Roles in the app's order, each with every replica's highest attempt."""
    roles: dict[str, RoleView] = {}
    current: dict[tuple[str, int], tuple[int, dict[str, Any]]] = {}
    for summary in containers:
        labels = summary.get("Labels") or {}
        name = labels.get(LABEL_ROLE, "?")
        if name not in roles:
            roles[name] = RoleView(
                name,
                _int(labels.get(LABEL_ROLE_INDEX)),
                _int(labels.get(LABEL_NUM_REPLICAS), 1),
                _int(labels.get(LABEL_MAX_RETRIES)),
                labels.get(LABEL_RETRY_POLICY, "APPLICATION"),
            )
        key = (name, _int(labels.get(LABEL_REPLICA)))
        attempt = _int(labels.get(LABEL_ATTEMPT))
        if key not in current or attempt > current[key][0]:
            current[key] = (attempt, summary)
    for role in roles.values():
        for k in range(role.num_replicas):
            found = current.get((role.name, k))
            if found is None:
                role.replicas.append(ReplicaView(role.name, k, AppState.PENDING, message="gone"))
                continue
            state, code, message = container_state(found[1])
            role.replicas.append(
                ReplicaView(role.name, k, state, found[0], code, message, found[1])
            )
    ordered = sorted(roles.values(), key=lambda r: (r.index, r.name))
    _mark_replaced(ordered)
    return ordered


def _mark_replaced(roles: list[RoleView]) -> None:
    """Replicas a retry is replacing are PENDING, not FAILED.

    An APPLICATION (or ROLE) retry recreates its replicas one by one: while it
    does, a replica still at an older attempt than its app (or role) has been
    stopped for the retry, and its exit code is not a failure.
    """
    app_top = max(
        (r.attempt for role in roles if role.retry_policy == "APPLICATION" for r in role.replicas),
        default=0,
    )
    for role in roles:
        if role.retry_policy == "REPLICA":
            continue
        top = app_top if role.retry_policy == "APPLICATION" else role.retries_used()
        for r in role.replicas:
            if r.attempt < top and r.state in (AppState.FAILED, AppState.SUCCEEDED):
                r.state, r.message = AppState.PENDING, "being restarted"


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def ports_text(summary: dict[str, Any]) -> str:
    """Published ports as ``8080->127.0.0.1:32768``, from a container's list entry."""
    return ", ".join(
        f"{p['PrivatePort']}->{p.get('IP', '')}:{p['PublicPort']}"
        for p in summary.get("Ports") or []
        if p.get("PublicPort")
    )


def status_dict(view: AppView, handle: str) -> dict[str, Any]:
    """``AppStatus`` data, validated by the caller in one call."""
    roles = []
    for role in view.roles:
        replicas = []
        for r in role.replicas:
            summary = r.container or {}
            ports = ports_text(summary)
            message = "; ".join(m for m in (r.message, f"ports {ports}" if ports else "") if m)
            names = summary.get("Names") or [""]
            replicas.append(
                {"id": r.replica_id, "role": r.role, "state": r.state.value,
                 "exit_code": r.exit_code, "hostname": names[0].lstrip("/"),
                 "attempt": r.attempt, "started_at": summary.get("Created"),
                 "message": message}
            )  # fmt: skip
        roles.append({"role": role.name, "replicas": replicas})
    return {
        "state": view.state.value,
        "handle": handle,
        "num_restarts": view.num_restarts,
        "message": view.message,
        "roles": roles,
        "created_at": view.created_at,
    }
