"""Slurm job records (``squeue --json``, ``sacct --parsable2``) to AppStatus.

Slurm 22.05 quirks handled here: ``squeue --json`` ignores ``-j``/``-u`` (so
jobs are filtered on this side) and reports ``exit_code`` as a raw wait
status; ``sacct --json`` misreports return codes, so ``--parsable2`` is read.
A heterogeneous job is one record per component; component 0 (the leader)
runs the batch script, so its state and exit code are the app's.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from torchrun_core.schedulers.slurm.jobdir import DIRS_MARK, JobDirState, dirs_command, parse_dirs
from torchrun_core.schedulers.slurm.script import COMMENT_TAG
from torchrun_core.specs.state import AppState

SACCT_MARK = "@@torchrun_core:sacct@@"
SQUEUE_FAILED = "@@torchrun_core:squeue-failed@@"
SACCT_FIELDS = "JobID,JobName,State,ExitCode,Comment,WorkDir,Submit,End,User,NodeList"

_STATES = {
    "PENDING": AppState.PENDING,
    "REQUEUED": AppState.PENDING,
    "REQUEUE_HOLD": AppState.PENDING,
    "REQUEUE_FED": AppState.PENDING,
    "RESV_DEL_HOLD": AppState.PENDING,
    "SUSPENDED": AppState.PENDING,
    "CONFIGURING": AppState.PENDING,
    "RUNNING": AppState.RUNNING,
    "COMPLETING": AppState.RUNNING,
    "STAGE_OUT": AppState.RUNNING,
    "SIGNALING": AppState.RUNNING,
    "COMPLETED": AppState.SUCCEEDED,
    "CANCELLED": AppState.CANCELLED,
    "FAILED": AppState.FAILED,
    "TIMEOUT": AppState.FAILED,
    "NODE_FAIL": AppState.FAILED,
    "OUT_OF_MEMORY": AppState.FAILED,
    "BOOT_FAIL": AppState.FAILED,
    "DEADLINE": AppState.FAILED,
    "PREEMPTED": AppState.FAILED,
    "SPECIAL_EXIT": AppState.FAILED,
}


@dataclass(frozen=True)
class SlurmJob:
    """One job, or one component of a heterogeneous job."""

    job_id: str  # the app id: the het leader's id for every component
    offset: int  # het component (0 for a plain job)
    slurm_state: str
    exit_code: int | None
    name: str
    comment: str
    work_dir: str
    user: str
    nodes: str
    restarts: int = 0
    submitted_at: float | None = None
    finished_at: float | None = None
    from_sacct: bool = False  # accounting's record: the controller no longer lists the job

    @property
    def state(self) -> AppState:
        # "CANCELLED by 1000" in sacct; squeue 22.05 may also add flags after the state.
        return _STATES.get(
            self.slurm_state.split()[0] if self.slurm_state else "", AppState.UNKNOWN
        )

    def session(self) -> str | None:
        """The torchrun_core session from the comment tag, None for other jobs."""
        tag = self.comment.split(" ", 1)[0]
        prefix = f"{COMMENT_TAG}:"
        return tag[len(prefix) :] if tag.startswith(prefix) else None


def status_command(job_ids: Iterable[str], job_dirs: Mapping[str, str] | None = None) -> str:
    """One shell command printing ``id -un``, ``squeue --json``, sacct for ``job_ids``,
    then what each of ``job_dirs`` (app id -> dir) holds (:mod:`jobdir`)."""
    ids = ",".join(shlex.quote(j) for j in job_ids)
    sacct = (
        f"sacct --parsable2 --noheader -X --format={SACCT_FIELDS} -j {ids} 2>/dev/null"
        if ids
        else "true"
    )
    dirs = f"; {dirs_command(job_dirs)}" if job_dirs else ""
    # squeue's exit code is printed: a controller that does not answer is not "no jobs".
    return (
        f"id -un; squeue --json || echo {SQUEUE_FAILED}$?; echo {SACCT_MARK}; {sacct}{dirs}; true"
    )


def _wait_status_to_code(raw: Any) -> int | None:
    """22.05 reports a raw wait status: the code is in the high byte, a signal in the low."""
    if isinstance(raw, dict):  # later versions: {"return_code": n, "signal": {...}}
        code = raw.get("return_code")
        return code if isinstance(code, int) else None
    if not isinstance(raw, int):
        return None
    if raw & 0x7F:
        return 128 + (raw & 0x7F)
    return raw >> 8


def _epoch(raw: Any) -> float | None:
    if isinstance(raw, dict):  # newer: {"set": true, "number": n}
        raw = raw.get("number") if raw.get("set", True) else None
    return float(raw) if isinstance(raw, (int, float)) and raw > 0 else None


def _state_text(raw: Any) -> str:
    if isinstance(raw, list):  # newer versions: a list of flags, the state first
        return str(raw[0]) if raw else ""
    return str(raw or "")


class ControllerUnavailable(Exception):
    """squeue could not reach slurmctld: nothing can be said about any job."""


class SqueueFailed(ControllerUnavailable):
    """squeue itself failed (its stderr says why: no controller, no slurm.conf, no squeue)."""

    def __init__(self, message: str, code: int | None) -> None:
        super().__init__(message)
        self.code = code


def parse_squeue(text: str) -> list[SlurmJob]:
    """The jobs of ``squeue --json`` output; a het component carries its leader's id.

    Raises:
        ControllerUnavailable: squeue failed, or reported errors (22.05 exits 0
            with ``"errors": [...]`` and no jobs when slurmctld is down).
        ValueError: the output is not squeue's JSON.
    """
    if SQUEUE_FAILED in text:
        code = text.rpartition(SQUEUE_FAILED)[2].strip()
        raise SqueueFailed(f"squeue exited {code}", int(code) if code.isdigit() else None)
    data = json.loads(text)
    errors = data.get("errors") if isinstance(data, dict) else None
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {"error": errors[0]}
        detail = first.get("error") or first.get("description") or first
        raise ControllerUnavailable(f"{detail} ({first.get('source', 'squeue')})")
    jobs = []
    for rec in data.get("jobs", []):
        het_id = rec.get("het_job_id") or 0
        if isinstance(het_id, dict):
            het_id = het_id.get("number") or 0
        offset = rec.get("het_job_offset") or 0
        if isinstance(offset, dict):
            offset = offset.get("number") or 0
        jobs.append(
            SlurmJob(
                job_id=str(het_id or rec["job_id"]),
                offset=int(offset) if het_id else 0,
                slurm_state=_state_text(rec.get("job_state")),
                exit_code=_wait_status_to_code(rec.get("exit_code")),
                name=str(rec.get("name", "")),
                comment=str(rec.get("comment") or ""),
                work_dir=str(rec.get("current_working_directory", "")),
                user=str(rec.get("user_name", "")),
                nodes=str(rec.get("nodes", "")),
                restarts=int(rec.get("restart_cnt") or 0),
                submitted_at=_epoch(rec.get("submit_time")),
                finished_at=_epoch(rec.get("end_time")),
            )
        )
    return jobs


def _sacct_time(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:  # "Unknown", "None"
        return None


def parse_sacct(text: str) -> list[SlurmJob]:
    """The allocations of ``sacct --parsable2 --noheader -X`` with :data:`SACCT_FIELDS`."""
    jobs = []
    for line in text.splitlines():
        cols = line.split("|")
        if len(cols) != len(SACCT_FIELDS.split(",")):
            continue
        job_id, name, state, exit_code, comment, work_dir, submit, end, user, nodes = cols
        leader, _, offset = job_id.partition("+")
        if not leader.isdigit():
            continue
        code, _, signal = exit_code.partition(":")
        exit_value = int(code) if code.isdigit() else None
        if signal.isdigit() and int(signal):
            exit_value = 128 + int(signal)
        jobs.append(
            SlurmJob(
                job_id=leader,
                offset=int(offset) if offset.isdigit() else 0,
                slurm_state=state,
                exit_code=exit_value,
                name=name,
                comment=comment,
                work_dir=work_dir,
                user=user,
                nodes=nodes,
                submitted_at=_sacct_time(submit),
                finished_at=_sacct_time(end),
                from_sacct=True,
            )
        )
    return jobs


def parse_status_output(
    text: str,
) -> tuple[str, dict[str, list[SlurmJob]], dict[str, JobDirState]]:
    """The remote user, every job by app id and the job dirs read, from :func:`status_command`.

    squeue's records win; sacct fills in jobs the controller has forgotten.

    Raises:
        ControllerUnavailable: squeue could not reach the controller.
    """
    text, _, dirs_text = text.partition(DIRS_MARK)
    head, _, sacct_text = text.partition(SACCT_MARK)
    user, _, squeue_text = head.partition("\n")
    by_id: dict[str, list[SlurmJob]] = {}
    for job in parse_squeue(squeue_text):
        by_id.setdefault(job.job_id, []).append(job)
    for job in parse_sacct(sacct_text):
        if job.job_id not in by_id or job.offset not in {j.offset for j in by_id[job.job_id]}:
            by_id.setdefault(job.job_id, []).append(job)
    for jobs in by_id.values():
        jobs.sort(key=lambda j: j.offset)
    return user.strip(), by_id, parse_dirs(dirs_text)
