"""A Slurm app's job records (and the exit codes its batch script recorded) to AppStatus.

srun returns one exit code per step, the largest of its tasks'. So that each
replica keeps its own, every task writes its code to ``<role>-<rank>.rc`` in
the job dir, and the batch script folds those files into the job's comment
when the step ends (see :mod:`script`), where status reads them from
the same squeue/sacct round trip as everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from torchrun_core.schedulers.slurm.jobdir import JobDirState
from torchrun_core.schedulers.slurm.script import COMMENT_TAG, RC_KEY, STOPPED_CODE
from torchrun_core.schedulers.slurm.status import SlurmJob
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import (
    AppStatus,
    ReplicaStatus,
    RoleStatus,
    mark_stopped_siblings,
    stopped_after,
)

# One name or bracketed range group at a time: commas inside brackets do not split.
_HOSTLIST_ITEM = re.compile(r"[^,\[]+(?:\[[^\]]*\][^,\[]*)?|\[[^\]]*\][^,]*")
_HOSTLIST_PARTS = re.compile(r"([^\[]*)(?:\[([^\]]*)\])?(.*)")


@dataclass(frozen=True)
class RoleExit:
    """A role's recorded exit: srun's code, and the replicas whose code was not 0.

    ``replicas`` maps a rank to its code, or to None when the task left no
    code (it was killed before it could write one).
    """

    code: int
    replicas: dict[int, int | None] = field(default_factory=dict)
    stopped: frozenset[int] = frozenset()  # ranks Slurm stopped (SIGTERM): cancel, failure

    def replica_code(self, rank: int) -> int:
        """The rank's own exit code; srun's for a task that left none."""
        if rank not in self.replicas:
            return 0
        found = self.replicas[rank]
        return self.code if found is None else found


def job_tag(job: SlurmJob) -> tuple[str | None, list[tuple[str, int]]]:
    """``(session, [(role, replicas), ...])`` from the job's comment tag."""
    session, roles = _tag_roles(job)
    return session, [(name, count) for name, count, _ in roles]


def _tag_roles(job: SlurmJob) -> tuple[str | None, list[tuple[str, int, int]]]:
    """``(session, [(role, replicas, tasks per node), ...])``; the tag says ``role=NxK``."""
    return tag_session_roles(job.session())


def job_tag_roles(tag: str) -> list[tuple[str, int]]:
    """``[(role, replicas), ...]`` of a comment tag."""
    return [(name, count) for name, count, _ in _tag_roles_of(tag)]


def _tag_roles_of(tag: str) -> list[tuple[str, int, int]]:
    """The roles of a comment tag (``torchrun_core:<session>:<roles>``)."""
    prefix = f"{COMMENT_TAG}:"
    head = tag.split(" ", 1)[0]
    return tag_session_roles(head[len(prefix) :] if head.startswith(prefix) else None)[1]


def tag_session_roles(session_roles: str | None) -> tuple[str | None, list[tuple[str, int, int]]]:
    """``<session>:<role>=<n>[x<k>],...`` parsed; ``(None, [])`` for None."""
    if session_roles is None:
        return None, []
    session, _, roles_text = session_roles.partition(":")
    roles = []
    for item in filter(None, roles_text.split(",")):
        name, _, layout = item.partition("=")
        count, _, per_node = layout.partition("x")
        roles.append(
            (name, int(count) if count.isdigit() else 1, int(per_node) if per_node.isdigit() else 1)
        )
    return session, roles


def expand_hostlist(text: str) -> list[str]:
    """Slurm's compact host list (``node[1-3,07],login``) as names; [] when unreadable."""
    hosts: list[str] = []
    if any(c in text for c in " ()"):  # "None assigned", "(null)": no node yet
        return []
    for item in _HOSTLIST_ITEM.findall(text):
        prefix, ranges, suffix = _HOSTLIST_PARTS.fullmatch(item).groups()  # type: ignore[union-attr]
        if ranges is None:
            hosts.append(item)
            continue
        for part in ranges.split(","):
            first, _, last = part.partition("-")
            if not first.isdigit() or (last and not last.isdigit()):
                return []
            for number in range(int(first), int(last or first) + 1):
                hosts.append(f"{prefix}{number:0{len(first)}d}{suffix}")
    return hosts


def role_exits(comment: str) -> dict[str, RoleExit]:
    """What the batch script wrote into the comment: ``rc_key=a:3@1=3@2=?,b:0,``.

    ``a:3`` is srun's code for role ``a``; ``@1=3`` says rank 1 exited 3 and
    ``@2=?`` that rank 2 left no code; unlisted ranks exited 0.
    """
    for token in reversed(comment.split()):
        if token.startswith(f"{RC_KEY}="):
            return dict(_role_exit(item) for item in token[len(RC_KEY) + 1 :].split(",") if item)
    return {}


def _role_exit(item: str) -> tuple[str, RoleExit]:
    head, *ranks = item.split("@")
    name, _, code = head.rpartition(":")
    replicas: dict[int, int | None] = {}
    stopped = set()
    for rank_code in ranks:
        rank, _, value = rank_code.partition("=")
        if rank.isdigit():
            replicas[int(rank)] = int(value) if value.isdigit() else None
            if value == STOPPED_CODE:
                stopped.add(int(rank))
    return name, RoleExit(int(code) if code.isdigit() else 1, replicas, frozenset(stopped))


def role_exit_codes(comment: str) -> dict[str, int]:
    """``{role: srun's exit code}`` from the comment (see :func:`role_exits`)."""
    return {name: found.code for name, found in role_exits(comment).items()}


@dataclass(frozen=True)
class SlurmApp:
    """Everything known of one app after one status round trip.

    Attributes:
        jobs: squeue's records (else sacct's), het components by offset;
            empty once the controller has forgotten the job and accounting
            has no record of it.
        tag: the comment tag (from the job, else from this machine's record).
        job_dir: what the job dir says; None when it was not read.
    """

    app_id: str
    jobs: list[SlurmJob]
    tag: str = ""
    job_dir: JobDirState | None = None

    @property
    def live(self) -> bool:
        """Slurm still runs (or completes) some of it: processes may be left."""
        return bool(self.jobs) and not self.jobs[0].from_sacct and not self.slurm_state.is_terminal

    @property
    def slurm_state(self) -> AppState:
        return app_state(self.jobs) if self.jobs else AppState.UNKNOWN


def app_state(jobs: list[SlurmJob]) -> AppState:
    """Slurm's state of the app: the leader's (it runs the batch script), or CANCELLED."""
    if any(j.state is AppState.CANCELLED for j in jobs):
        return AppState.CANCELLED
    return jobs[0].state


def resolved_state(app: SlurmApp) -> tuple[AppState, str]:
    """The app's state and message, from Slurm's records and its job dir.

    While Slurm runs any part of the job (COMPLETING included) the app is not
    over; once it is, a cancel's mark makes it CANCELLED, and the batch
    script's own outcome decides between SUCCEEDED and FAILED.
    """
    jd = app.job_dir
    message = app.jobs[0].slurm_state if app.jobs else ""
    # The batch script's last word, written once every srun (so every task)
    # has ended: what Slurm still does then (COMPLETING, a controller that
    # only hears of it after a restart) is bookkeeping. Not after a cancel,
    # whose stop may still be killing processes.
    decided = jd is not None and jd.final and jd.exit_code is not None and not jd.cancelled
    if app.live and not decided:
        return app.slurm_state, message
    if (jd is not None and jd.cancelled) or app.slurm_state is AppState.CANCELLED:
        return AppState.CANCELLED, message or "cancelled"
    if jd is not None and jd.final and jd.exit_code is not None:
        code = jd.exit_code
        state = AppState.SUCCEEDED if code == 0 else AppState.FAILED
        return state, message or ("exit code 0" if code == 0 else f"exit code {code}")
    if app.jobs:
        return app.slurm_state, message
    if jd is not None and jd.exists:
        # Slurm forgot a job whose script never wrote its outcome: killed, out of
        # time, or lost with its node.
        return AppState.FAILED, "slurm no longer knows it and its batch script left no outcome"
    return AppState.UNKNOWN, message


def app_status(app: SlurmApp, handle: str) -> AppStatus | None:
    """AppStatus of one app; None when nothing is known of it."""
    state, message = resolved_state(app)
    roles_tag = _tag_roles_of(app.tag)
    if state is AppState.UNKNOWN and not app.jobs:
        return None
    leader = app.jobs[0] if app.jobs else None
    by_offset = {j.offset: j for j in app.jobs}
    codes = app.job_dir.codes if app.job_dir and app.job_dir.final else ""
    exits = (
        role_exits(f"{RC_KEY}={codes}") if codes else role_exits(leader.comment if leader else "")
    )
    any_failed = any(code for e in exits.values() for code in e.replicas.values() if code)
    live_codes = app.job_dir.replica_codes if app.job_dir and not state.is_terminal else {}
    roles = []
    for i, (name, count, per_node) in enumerate(roles_tag):
        part = by_offset.get(i, leader)
        role_state = (
            state if part is None or part.state.is_terminal or state.is_terminal else part.state
        )
        hosts = expand_hostlist(part.nodes) if part else []
        replicas = []
        for k in range(count):
            replica = _replica(name, k, role_state, state, exits.get(name), any_failed, leader)
            if (name, k) in live_codes:  # ended while its siblings still run
                code = live_codes[(name, k)]
                replica.exit_code = code
                replica.state = AppState.SUCCEEDED if code == 0 else AppState.FAILED
            node = k // per_node  # ranks fill each node in turn (srun's block distribution)
            replica.hostname = hosts[node] if node < len(hosts) else (part.nodes if part else "")
            replicas.append(replica)
        roles.append(RoleStatus(role=name, replicas=replicas))
    _name_the_cause(state, roles)
    status = AppStatus(
        state=state,
        handle=handle,
        num_restarts=leader.restarts if leader else 0,
        message=message,
        roles=roles,
        created_at=leader.submitted_at if leader else None,
        finished_at=leader.finished_at if leader and state.is_terminal else None,
    )
    # A sibling that died of Slurm's SIGTERM before its task shell heard of it
    # left 143 (or 137) with no mark: next to a real failure, it was stopped.
    return mark_stopped_siblings(status)


def _name_the_cause(state: AppState, roles: list[RoleStatus]) -> None:
    """In a FAILED app, the replicas Slurm stopped say which failure stopped them."""
    replicas = [r for role in roles for r in role.replicas]
    causes = [r for r in replicas if r.state is AppState.FAILED]
    if state is AppState.FAILED and causes:
        for replica in replicas:
            if replica.state is AppState.CANCELLED:
                replica.message = stopped_after(causes[0])


def _replica(
    role: str,
    rank: int,
    role_state: AppState,
    app: AppState,
    recorded: RoleExit | None,
    any_failed: bool,
    leader: SlurmJob | None,
) -> ReplicaStatus:
    state = role_state
    code = leader.exit_code if leader and role_state.is_terminal else None
    if app is AppState.CANCELLED:
        code = None
    elif role_state.is_terminal and recorded is not None:
        # The script recorded this replica's own exit code (last attempt).
        stopped = rank in recorded.stopped
        if stopped or (recorded.replicas.get(rank, 0) is None and any_failed):
            # No code of its own while another replica failed: srun stopped it.
            return ReplicaStatus(id=rank, role=role, state=AppState.CANCELLED, exit_code=None)
        code = recorded.replica_code(rank)
        state = AppState.SUCCEEDED if code == 0 else AppState.FAILED
    return ReplicaStatus(id=rank, role=role, state=state, exit_code=code)
