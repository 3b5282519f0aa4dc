"""The docker scheduler's dry-run request: the Engine API create body of every container.

A plan holds, per replica, the exact JSON that ``POST /containers/create``
receives, plus the network and images the app needs. Plain frozen
dataclasses and dicts, built without the SDK: a 1000-replica plan must take
a few milliseconds, and a dry run must work with no daemon at all.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.schedulers.docker.options import HOST_NETWORK, DockerOptions
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.macros import RANK0_HOST_ENV, Macros
from torchrun_core.specs.mounts import BindMount, DeviceMount, VolumeMount

# Labels on every container (and the app's network): describe and list read only these.
LABEL_APP = "torchrun_core.app_id"
LABEL_APP_NAME = "torchrun_core.app_name"
LABEL_SESSION = "torchrun_core.session"
LABEL_ROLE = "torchrun_core.role"
LABEL_ROLE_INDEX = "torchrun_core.role_index"
LABEL_REPLICA = "torchrun_core.replica_id"
LABEL_NUM_REPLICAS = "torchrun_core.num_replicas"
LABEL_ATTEMPT = "torchrun_core.attempt"
LABEL_MAX_RETRIES = "torchrun_core.max_retries"
LABEL_RETRY_POLICY = "torchrun_core.retry_policy"
LABEL_GRACE = "torchrun_core.grace_period"

# Env vars set in every replica, besides the role's env (the local scheduler's names).
ROLE_ENV = "TORCHRUN_CORE_ROLE"
REPLICA_ID_ENV = "TORCHRUN_CORE_REPLICA_ID"
NUM_REPLICAS_ENV = "TORCHRUN_CORE_NUM_REPLICAS"
APP_ID_ENV = "TORCHRUN_CORE_APP_ID"
ATTEMPT_ENV = "TORCHRUN_CORE_ATTEMPT"

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_NOT_HOSTNAME_RE = re.compile(r"[^A-Za-z0-9-]+")
_MAX_HOSTNAME = 63
_REPLICA_SLOT = "\0replica_id\0"


@dataclass(frozen=True)
class ContainerSpec:
    """One replica: ``POST /containers/create?name=<name>`` with ``body``."""

    name: str
    role: str
    replica_id: int
    hostname: str  # how the other replicas reach it ("" on the host's network)
    body: dict[str, Any]


@dataclass(frozen=True)
class RoleSpec:
    """One role's retry settings."""

    name: str
    num_replicas: int
    retry_policy: str  # a RetryPolicy value
    max_retries: int


@dataclass(frozen=True)
class DockerPlan:
    """Everything ``schedule`` needs to start an app as containers."""

    app_id: str
    app_name: str
    session: str
    host: str | None  # None: the environment's daemon
    network: str  # the network every container joins
    create_network: bool  # made (and removed by cancel) for this app alone
    images: tuple[str, ...]
    image_pull_policy: str
    grace_period: int
    roles: tuple[RoleSpec, ...]
    containers: tuple[ContainerSpec, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def needs_supervisor(self) -> bool:
        """True when failures need handling: retries to make, or survivors to stop."""
        return len(self.containers) > 1 or any(r.max_retries > 0 for r in self.roles)

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        """JSON-ready data; ``redact`` hides secret-looking env values."""
        from torchrun_core.specs.dryrun import REDACTED, is_secret_key

        def body(spec: ContainerSpec) -> dict[str, Any]:
            if not redact:
                return spec.body
            env = [_redact_pair(pair, is_secret_key, REDACTED) for pair in spec.body["Env"]]
            return {**spec.body, "Env": env}

        return {
            "app_id": self.app_id,
            "app_name": self.app_name,
            "session": self.session,
            "host": self.host,
            "network": self.network,
            "create_network": self.create_network,
            "images": list(self.images),
            "image_pull_policy": self.image_pull_policy,
            "grace_period": self.grace_period,
            "notes": list(self.notes),
            "roles": [vars(r) for r in self.roles],
            "containers": [
                {"name": c.name, "role": c.role, "replica_id": c.replica_id,
                 "hostname": c.hostname, "body": body(c)}
                for c in self.containers
            ],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DockerPlan:
        """The plan :meth:`to_dict` (unredacted) wrote."""
        nested = ("images", "notes", "roles", "containers")
        return cls(
            **{k: v for k, v in data.items() if k not in nested},
            images=tuple(data["images"]),
            notes=tuple(data["notes"]),
            roles=tuple(RoleSpec(**r) for r in data["roles"]),
            containers=tuple(ContainerSpec(**c) for c in data["containers"]),
        )


def _redact_pair(pair: str, is_secret: Any, redacted: str) -> str:
    key, _, _ = pair.partition("=")
    return f"{key}={redacted}" if is_secret(key) else pair


def new_app_id(app_name: str) -> str:
    """``<app name>-<8 random chars>``, valid in a handle and in container names."""
    suffix = "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in os.urandom(8))
    return f"{app_name}-{suffix}"


def hostnames(app: AppDef) -> dict[str, str]:
    """Each role's hostname stem; replica ``k`` is ``<stem>-<k>``.

    Raises:
        InvalidInputError: two roles whose names differ only in characters a
            hostname cannot hold (``_``, ``.``).
    """
    stems: dict[str, str] = {}
    for role in app.roles:
        stem = _NOT_HOSTNAME_RE.sub("-", role.name).strip("-").lower() or "role"
        stem = stem[: _MAX_HOSTNAME - 7]  # room for "-<replica id>"
        clash = [name for name, other in stems.items() if other == stem]
        if clash:
            raise InvalidInputError(
                f"roles {clash[0]!r} and {role.name!r} would get the same hostname {stem!r}",
                hint="rename one: hostnames keep only letters, digits and '-'",
            )
        stems[role.name] = stem
    return stems


def build_plan(
    app: AppDef, options: DockerOptions, *, app_id: str, session: str, environ: Mapping[str, str]
) -> DockerPlan:
    """The create body of every replica of ``app``, with macros expanded.

    ``environ`` is where ``copy_env`` takes its values from.
    """
    mode = options.network_mode
    own_network = mode is None
    network = f"torchrun_core-{app_id}" if own_network else str(mode)
    stems = hostnames(app)
    first = app.roles[0]
    rank0 = _rank0_host(mode, app_id, first.name, stems[first.name])
    copied = copied_env(options.copy_env, environ)
    containers: list[ContainerSpec] = []
    notes: list[str] = []
    for index, role in enumerate(app.roles):
        _check_role(role)
        if role.resource.devices:
            notes.append(f"role {role.name!r}: resource devices are ignored by docker")
        containers += _role_containers(
            role, index, app, options, app_id, session, network, stems[role.name], rank0, copied
        )
    if mode is not None and mode != HOST_NETWORK:
        notes.append(f"network {mode!r} must exist; replicas reach each other by container name")
    return DockerPlan(
        app_id=app_id,
        app_name=app.name,
        session=session,
        host=options.host,
        network=network,
        create_network=own_network,
        images=tuple(dict.fromkeys(role.image for role in app.roles)),
        image_pull_policy=options.image_pull_policy,
        grace_period=options.grace_period,
        roles=tuple(
            RoleSpec(r.name, r.num_replicas, r.retry_policy.value, r.max_retries) for r in app.roles
        ),
        containers=tuple(containers),
        notes=tuple(notes),
    )


def _rank0_host(mode: str | None, app_id: str, role: str, stem: str) -> str:
    if mode is None:
        return f"{stem}-0"  # a network alias on the app's own network
    if mode == HOST_NETWORK:
        return "localhost"
    return f"{app_id}-{role}-0"  # container names resolve on any user-defined network


def copied_env(patterns: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The vars of ``environ`` that ``patterns`` (names or globs) name, in ``environ``'s order."""
    if not patterns:
        return {}
    return {
        key: value
        for key, value in environ.items()
        if any(key == p or fnmatch.fnmatchcase(key, p) for p in patterns)
    }


def _check_role(role: Role) -> None:
    if not role.image:
        raise InvalidInputError(
            f"role {role.name!r} has no image",
            hint="the docker scheduler runs each role in an image: set Role.image "
            "(components take --image)",
        )
    texts = [role.image, role.entrypoint, *role.args, *role.env.values()]
    if any("\0" in text for text in texts):
        raise InvalidInputError(
            f"role {role.name!r}: its image, entrypoint, args or env contain a NUL byte",
            hint="a process's arguments and environment cannot contain NUL (\\0)",
        )


def host_config(role: Role, options: DockerOptions, network: str) -> dict[str, Any]:
    """The ``HostConfig`` shared by every replica of ``role``."""
    config: dict[str, Any] = {"NetworkMode": network, "Privileged": options.privileged}
    if options.init:
        config["Init"] = True
    res = role.resource
    if res.cpu > 0:
        config["NanoCpus"] = int(res.cpu * 1e9)
    if res.memory_mb > 0:
        config["Memory"] = res.memory_mb << 20
    if res.gpu > 0:
        config["DeviceRequests"] = [
            {"Driver": "", "Count": res.gpu, "Capabilities": [["gpu"]], "Options": {}}
        ]
    if options.shm_size is not None:
        config["ShmSize"] = options.shm_size
    mounts, devices = _mounts(role)
    if mounts:
        config["Mounts"] = mounts
    if devices:
        config["Devices"] = devices
    if role.port_map and network != HOST_NETWORK:
        # Published on the loopback only, on a port docker picks: replicas never clash,
        # and nothing is exposed beyond this machine by default.
        config["PortBindings"] = {
            f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]
            for port in role.port_map.values()
        }
    return config


def _mounts(role: Role) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    mounts: list[dict[str, Any]] = []
    devices: list[dict[str, str]] = []
    for mount in role.mounts:
        if isinstance(mount, BindMount):
            source = os.path.abspath(os.path.expanduser(mount.src_path))
            mounts.append(
                {"Type": "bind", "Source": source, "Target": mount.dst_path,
                 "ReadOnly": mount.read_only}
            )  # fmt: skip
        elif isinstance(mount, VolumeMount):
            mounts.append(
                {"Type": "volume", "Source": mount.src, "Target": mount.dst_path,
                 "ReadOnly": mount.read_only}
            )  # fmt: skip
        elif isinstance(mount, DeviceMount):
            devices.append(
                {"PathOnHost": mount.src_path, "PathInContainer": mount.dst_path,
                 "CgroupPermissions": mount.permissions}
            )  # fmt: skip
    return mounts, devices


def _role_containers(
    role: Role,
    index: int,
    app: AppDef,
    options: DockerOptions,
    app_id: str,
    session: str,
    network: str,
    stem: str,
    rank0: str,
    copied: dict[str, str],
) -> list[ContainerSpec]:
    # The cost of a 1000-replica dry run is this loop: macros are expanded once per
    # role with a placeholder for ${replica_id}, leaving one str.join per value.
    macros = Macros(app_id=app_id, replica_id=_REPLICA_SLOT)
    args = [macros.substitute(a).split(_REPLICA_SLOT) for a in role.args]
    fixed_env = {**copied, **{k: macros.substitute(v) for k, v in role.env.items()}}
    fixed_env.update(
        {ROLE_ENV: role.name, NUM_REPLICAS_ENV: str(role.num_replicas), APP_ID_ENV: app_id,
         RANK0_HOST_ENV: rank0, ATTEMPT_ENV: "0"}
    )  # fmt: skip
    per_replica = {k: v.split(_REPLICA_SLOT) for k, v in fixed_env.items() if _REPLICA_SLOT in v}
    base_env = [f"{k}={v}" for k, v in fixed_env.items() if k not in per_replica]
    shared_cmd = [parts[0] for parts in args] if all(len(p) == 1 for p in args) else None
    labels = {
        LABEL_APP: app_id, LABEL_APP_NAME: app.name, LABEL_SESSION: session,
        LABEL_ROLE: role.name, LABEL_ROLE_INDEX: str(index),
        LABEL_NUM_REPLICAS: str(role.num_replicas), LABEL_ATTEMPT: "0",
        LABEL_MAX_RETRIES: str(role.max_retries), LABEL_RETRY_POLICY: role.retry_policy.value,
        LABEL_GRACE: str(options.grace_period),
    }  # fmt: skip
    template: dict[str, Any] = {"Image": role.image, "Entrypoint": [role.entrypoint]}
    if role.port_map and network != HOST_NETWORK:
        template["ExposedPorts"] = {f"{port}/tcp": {} for port in role.port_map.values()}
    template["HostConfig"] = host_config(role, options, network)
    on_host = network == HOST_NETWORK
    own_network = options.network_mode is None
    out = []
    for k in range(role.num_replicas):
        rid = str(k)
        name = f"{app_id}-{role.name}-{rid}"
        hostname = "" if on_host else f"{stem}-{rid}"
        env = base_env + [f"{key}={rid.join(parts)}" for key, parts in per_replica.items()]
        env.append(f"{REPLICA_ID_ENV}={rid}")
        body = dict(template)
        body["Cmd"] = shared_cmd if shared_cmd is not None else [rid.join(p) for p in args]
        body["Env"] = env
        body["Labels"] = {**labels, LABEL_REPLICA: rid}
        if not on_host:
            body["Hostname"] = hostname
            aliases = [hostname] if own_network else []
            body["NetworkingConfig"] = {"EndpointsConfig": {network: {"Aliases": aliases}}}
        out.append(ContainerSpec(name, role.name, k, hostname, body))
    return out
