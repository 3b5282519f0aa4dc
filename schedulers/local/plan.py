"""The local scheduler's dry-run request: a complete Popen plan per replica.

Plain frozen dataclasses, not pydantic models: a plan for 1000 replicas must
build in a few milliseconds, and the detached supervisor reads it after a
fork where only the standard library is used.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.dryrun import redact_env
from torchrun_core.specs.macros import RANK0_HOST_ENV, Macros

# Env vars the local scheduler sets in every replica, besides the role's env.
ROLE_ENV = "TORCHRUN_CORE_ROLE"
REPLICA_ID_ENV = "TORCHRUN_CORE_REPLICA_ID"
NUM_REPLICAS_ENV = "TORCHRUN_CORE_NUM_REPLICAS"
APP_ID_ENV = "TORCHRUN_CORE_APP_ID"
# Set by the supervisor at spawn time: 0 for the first run, +1 per retry.
ATTEMPT_ENV = "TORCHRUN_CORE_ATTEMPT"
RANK0_HOST = "localhost"

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_REPLICA_SLOT = "\0replica_id\0"


@dataclass(frozen=True)
class ReplicaPlan:
    """How to start one replica: ``Popen(argv, cwd=cwd, env=os.environ | env)``."""

    role: str
    replica_id: int
    argv: tuple[str, ...]
    cwd: str
    env: dict[str, str]  # the overlay on the launching process's environment
    log_dir: str  # <attempt>.stdout / .stderr / .combined (+ .idx) live here


@dataclass(frozen=True)
class RolePlan:
    """One role: its replicas and what happens when one fails."""

    name: str
    retry_policy: str  # a RetryPolicy value
    max_retries: int
    replicas: tuple[ReplicaPlan, ...]


@dataclass(frozen=True)
class LocalPlan:
    """Everything ``schedule`` needs to run an app as local processes."""

    app_id: str
    app_name: str
    session: str
    app_dir: str  # state, plan and supervisor files
    log_dir: str  # this app's logs: <log_dir>/<role>/<replica>/<attempt>.<stream>
    grace_period: float
    roles: tuple[RolePlan, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        """JSON-ready data; ``redact`` hides secret-looking env values."""
        roles = []
        for role in self.roles:
            replicas = [
                {
                    "replica_id": r.replica_id,
                    "argv": list(r.argv),
                    "cwd": r.cwd,
                    "env": redact_env(r.env) if redact else dict(r.env),
                    "log_dir": r.log_dir,
                }
                for r in role.replicas
            ]
            roles.append(
                {
                    "name": role.name,
                    "retry_policy": role.retry_policy,
                    "max_retries": role.max_retries,
                    "replicas": replicas,
                }
            )
        return {
            "app_id": self.app_id,
            "app_name": self.app_name,
            "session": self.session,
            "app_dir": self.app_dir,
            "log_dir": self.log_dir,
            "grace_period": self.grace_period,
            "notes": list(self.notes),
            "roles": roles,
        }


def new_app_id(app_name: str) -> str:
    """``<app name>-<8 random chars>``: unique enough, and valid in an AppHandle."""
    suffix = "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in os.urandom(8))
    return f"{app_name}-{suffix}"


def resolve_image_dir(role: Role, cwd: str) -> str:
    """The absolute directory a role runs in: its image, or ``cwd`` when empty.

    Raises:
        InvalidInputError: naming the role and path when it is not a directory.
    """
    if not role.image:
        return cwd
    path = os.path.abspath(os.path.expanduser(role.image))
    if not os.path.isdir(path):
        raise InvalidInputError(
            f"role {role.name!r}: image {role.image!r} is not a directory ({path})",
            hint="the local scheduler runs each role in a directory; "
            "leave image empty to use the current directory",
        )
    return path


def _reject_nul(role: Role) -> None:
    """A NUL byte cannot cross exec(); say so now rather than when the replica starts."""
    texts = [role.entrypoint, *role.args, *role.env.values()]
    if any("\0" in text for text in texts):
        raise InvalidInputError(
            f"role {role.name!r}: its entrypoint, args or env contain a NUL byte",
            hint="a process's arguments and environment cannot contain NUL (\\0)",
        )


def build_plan(
    app: AppDef,
    *,
    app_id: str,
    session: str,
    app_dir: Path,
    log_dir: Path,
    grace_period: float,
) -> LocalPlan:
    """The Popen plan of every replica of ``app``, with macros expanded."""
    cwd = os.getcwd()
    roles = []
    notes = []
    for role in app.roles:
        _reject_nul(role)
        image_dir = resolve_image_dir(role, cwd)
        roles.append(_role_plan(role, app_id, image_dir, f"{log_dir}/{role.name}"))
        if role.mounts:
            notes.append(f"role {role.name!r}: mounts are ignored by the local scheduler")
    return LocalPlan(
        app_id=app_id,
        app_name=app.name,
        session=session,
        app_dir=str(app_dir),
        log_dir=str(log_dir),
        grace_period=grace_period,
        roles=tuple(roles),
        notes=tuple(notes),
    )


def _role_plan(role: Role, app_id: str, image_dir: str, role_log_dir: str) -> RolePlan:
    # This loop is the whole cost of a 1000-replica dry run, so the macros are
    # expanded once per role with a placeholder for ${replica_id} (NUL never
    # occurs in argv or env), leaving one str.join per value per replica.
    macros = Macros(app_id=app_id, replica_id=_REPLICA_SLOT, img_root=image_dir)
    common = {
        ROLE_ENV: role.name,
        NUM_REPLICAS_ENV: str(role.num_replicas),
        APP_ID_ENV: app_id,
        RANK0_HOST_ENV: RANK0_HOST,
    }
    arg_parts = [macros.substitute(a).split(_REPLICA_SLOT) for a in role.args]
    base_env: dict[str, str] = {}
    per_replica_env: list[tuple[str, list[str]]] = []
    for key, value in role.env.items():
        parts = macros.substitute(value).split(_REPLICA_SLOT)
        if len(parts) == 1:
            base_env[key] = parts[0]
        elif key not in common:
            per_replica_env.append((key, parts))
    base_env.update(common)
    entrypoint = role.entrypoint
    shared_argv = None
    if all(len(parts) == 1 for parts in arg_parts):
        shared_argv = (entrypoint, *(parts[0] for parts in arg_parts))
    replicas = []
    for k in range(role.num_replicas):
        rid = str(k)
        argv = shared_argv or (entrypoint, *[rid.join(parts) for parts in arg_parts])
        env = base_env.copy()
        for key, parts in per_replica_env:
            env[key] = rid.join(parts)
        env[REPLICA_ID_ENV] = rid
        replicas.append(ReplicaPlan(role.name, k, argv, image_dir, env, f"{role_log_dir}/{rid}"))
    return RolePlan(role.name, role.retry_policy.value, role.max_retries, tuple(replicas))


def format_plan(plan: LocalPlan) -> str:
    """The plan as readable text, secret env values redacted."""
    lines = [
        f"local app {plan.app_name!r} as {plan.app_id} (session {plan.session})",
        f"  state dir: {plan.app_dir}",
        f"  log dir:   {plan.log_dir}/<role>/<replica>/<attempt>.{{stdout,stderr,combined}}",
        f"  cancel:    SIGTERM to each replica's process group, SIGKILL after "
        f"{plan.grace_period:g}s",
        "  env:       the launching process's environment, plus each replica's env below "
        f"and {ATTEMPT_ENV}",
    ]
    lines += [f"  note:      {note}" for note in plan.notes]
    for role in plan.roles:
        lines.append(
            f"role {role.name}: {len(role.replicas)} replica(s), retry_policy "
            f"{role.retry_policy}, max_retries {role.max_retries}"
        )
        for r in role.replicas:
            env = " ".join(f"{k}={shlex.quote(v)}" for k, v in redact_env(r.env).items())
            lines += [
                f"  {role.name}/{r.replica_id}:",
                f"    cwd  {shlex.quote(r.cwd)}",
                f"    env  {env}",
                f"    argv {shlex.join(r.argv)}",
                f"    logs {r.log_dir}/",
            ]
    return "\n".join(lines)
