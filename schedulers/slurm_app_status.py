"""A Slurm app's job records (and the exit codes its batch script recorded) to AppStatus.

srun returns one exit code per step, the largest of its tasks'. So that each
replica keeps its own, every task writes its code to ``<role>-<rank>.rc`` in
the job dir, and the batch script folds those files into the job's comment
when the step ends (see :mod:`slurm_script`), where status reads them from
the same squeue/sacct round trip as everything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from torchrun_core.schedulers.slurm_script import RC_KEY
from torchrun_core.schedulers.slurm_status import SlurmJob
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus, ReplicaStatus, RoleStatus

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
    session_roles = job.session()
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
    for rank_code in ranks:
        rank, _, value = rank_code.partition("=")
        if rank.isdigit():
            replicas[int(rank)] = int(value) if value.isdigit() else None
    return name, RoleExit(int(code) if code.isdigit() else 1, replicas)


def role_exit_codes(comment: str) -> dict[str, int]:
    """``{role: srun's exit code}`` from the comment (see :func:`role_exits`)."""
    return {name: found.code for name, found in role_exits(comment).items()}


def app_state(jobs: list[SlurmJob]) -> AppState:
    """The app's state: the leader's (it runs the batch script), CANCELLED if any part was."""
    if any(j.state is AppState.CANCELLED for j in jobs):
        return AppState.CANCELLED
    return jobs[0].state


def app_status(jobs: list[SlurmJob], handle: str) -> AppStatus:
    """AppStatus of one app from its job records (sorted by het offset)."""
    state = app_state(jobs)
    leader = jobs[0]
    by_offset = {j.offset: j for j in jobs}
    exits = role_exits(leader.comment)
    roles = []
    for i, (name, count, per_node) in enumerate(_tag_roles(leader)[1]):
        part = by_offset.get(i, leader)
        role_state = state if part.state.is_terminal or state.is_terminal else part.state
        hosts = expand_hostlist(part.nodes)
        replicas = [
            _replica(name, k, role_state, part, exits.get(name), leader, state)
            for k in range(count)
        ]
        for replica in replicas:  # ranks fill each node in turn (srun's block distribution)
            node = replica.id // per_node
            if node < len(hosts):
                replica.hostname = hosts[node]
        roles.append(RoleStatus(role=name, replicas=replicas))
    return AppStatus(
        state=state,
        handle=handle,
        num_restarts=leader.restarts,
        message=leader.slurm_state,
        roles=roles,
        created_at=leader.submitted_at,
        finished_at=leader.finished_at if state.is_terminal else None,
    )


def _replica(
    role: str,
    rank: int,
    role_state: AppState,
    part: SlurmJob,
    recorded: RoleExit | None,
    leader: SlurmJob,
    app: AppState,
) -> ReplicaStatus:
    state, code = role_state, leader.exit_code if role_state.is_terminal else None
    if role_state.is_terminal and app is not AppState.CANCELLED and recorded is not None:
        # The script recorded this replica's own exit code (last attempt).
        code = recorded.replica_code(rank)
        state = AppState.SUCCEEDED if code == 0 else AppState.FAILED
    return ReplicaStatus(id=rank, role=role, state=state, exit_code=code, hostname=part.nodes)
