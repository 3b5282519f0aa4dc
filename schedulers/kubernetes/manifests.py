"""The manifests of an app on plain Jobs, as plain dicts, and the parts JobSets share.

Default (any cluster from 1.20): one batch/v1 Job per replica and one headless
Service per app. Each pod gets ``hostname``/``subdomain``, so replica ``k`` of
a role is ``<role>-<k>.<app id>.<namespace>.svc``. Per-replica Jobs rather than
an Indexed Job per role: a dry run never contacts the cluster, so it cannot
tell whether the cluster honours ``completionMode: Indexed`` (1.20 drops it
silently), and a per-replica Job behaves the same everywhere.
With ``jobset`` one JobSet replaces the Jobs and the Service (``jobset``;
``plan.build_manifests`` chooses).
Built without the SDK: a 1000-replica dry run is a few milliseconds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.schedulers.kubernetes.options import KubernetesOptions
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.macros import RANK0_HOST_ENV, Macros
from torchrun_core.specs.mounts import BindMount, DeviceMount, VolumeMount
from torchrun_core.specs.retry import RetryPolicy

# Labels on every object; status, list and cancel select by these.
LABEL_APP = "torchrun-core/app-id"
LABEL_APP_NAME = "torchrun-core/app-name"
LABEL_SESSION = "torchrun-core/session"
LABEL_ROLE = "torchrun-core/role"
LABEL_REPLICA = "torchrun-core/replica-id"
LABEL_ROLE_INDEX = "torchrun-core/role-index"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
JOBSET_INDEX_ANNOTATION = "jobset.sigs.k8s.io/job-index"

ROLE_ENV = "TORCHRUN_CORE_ROLE"
REPLICA_ID_ENV = "TORCHRUN_CORE_REPLICA_ID"
NUM_REPLICAS_ENV = "TORCHRUN_CORE_NUM_REPLICAS"
APP_ID_ENV = "TORCHRUN_CORE_APP_ID"

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_NOT_DNS_RE = re.compile(r"[^a-z0-9-]+")
_SLOT = "\0replica_id\0"


def dns_label(text: str, limit: int) -> str:
    """``text`` as a DNS label: lowercase letters, digits and '-', at most ``limit`` long."""
    return _NOT_DNS_RE.sub("-", text.lower())[:limit].strip("-") or "x"


def new_app_id(app_name: str) -> str:
    """``<app name as a DNS label>-<8 random chars>``: a valid Service and label value."""
    suffix = "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in os.urandom(8))
    return f"{dns_label(app_name, 24)}-{suffix}"


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overlay`` merged in: dicts merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in overlay.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def role_stems(app: AppDef) -> dict[str, str]:
    """Each role's DNS stem; replica ``k``'s hostname is ``<stem>-<k>``.

    Raises:
        InvalidInputError: two roles with the same stem.
    """
    stems: dict[str, str] = {}
    for role in app.roles:
        stem = dns_label(role.name, 20)  # job names: <app id>-<stem>-<k> <= 63
        clash = [name for name, other in stems.items() if other == stem]
        if clash:
            raise InvalidInputError(
                f"roles {clash[0]!r} and {role.name!r} would get the same DNS name {stem!r}",
                hint="rename one: DNS names keep only lowercase letters, digits and '-'",
            )
        stems[role.name] = stem
    return stems


def check_app(app: AppDef, options: KubernetesOptions) -> None:
    """Refuse what the manifests cannot express honestly.

    Raises:
        InvalidInputError: a role without image, or a role/app-wide retry
            without ``jobset`` (plain Jobs only retry one replica).
    """
    for role in app.roles:
        if not role.image:
            raise InvalidInputError(
                f"role {role.name!r} has no image",
                hint="the kubernetes scheduler runs each role in an image: set Role.image",
            )
        if role.max_retries and role.retry_policy != RetryPolicy.REPLICA and not options.jobset:
            raise InvalidInputError(
                f"role {role.name!r}: retry_policy {role.retry_policy} with max_retries "
                f"{role.max_retries} cannot be done with plain Jobs",
                hint="plain Jobs retry one replica (backoffLimit): use retry_policy REPLICA, "
                "or --cfg jobset=true to restart the whole app (JobSet failurePolicy)",
            )


def service(app_id: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """The app's headless Service: it gives every pod's hostname a DNS record."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": app_id, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "clusterIP": "None",
            "selector": {LABEL_APP: app_id},
            # Records exist before pods are ready: rank 0 is found while workers start.
            "publishNotReadyAddresses": True,
        },
    }


def container(role: Role, options: KubernetesOptions, env: list[dict[str, Any]]) -> dict[str, Any]:
    """The role's container, without the per-replica parts of its args."""
    spec: dict[str, Any] = {"name": dns_label(role.name, 63), "image": role.image,
                            "command": [role.entrypoint], "env": env}  # fmt: skip
    if options.image_pull_policy:
        spec["imagePullPolicy"] = options.image_pull_policy
    res = role.resource
    amounts: dict[str, str] = {}
    if res.cpu > 0:
        amounts["cpu"] = f"{round(res.cpu * 1000)}m"
    if res.memory_mb > 0:
        amounts["memory"] = f"{res.memory_mb}Mi"
    if res.gpu > 0:
        amounts["nvidia.com/gpu"] = str(res.gpu)
    amounts.update({name: str(count) for name, count in res.devices.items()})
    if amounts:
        spec["resources"] = {"requests": dict(amounts), "limits": dict(amounts)}
    if role.port_map:
        spec["ports"] = [
            {"name": dns_label(name, 15), "containerPort": port}
            for name, port in role.port_map.items()
        ]
    return spec


def pod_spec(role: Role, options: KubernetesOptions, ctr: dict[str, Any]) -> dict[str, Any]:
    """The pod spec of one replica (the overlay applied last)."""
    spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [ctr],
                            "terminationGracePeriodSeconds": options.grace_period}  # fmt: skip
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for i, mount in enumerate(role.mounts):
        name = f"mount-{i}"
        if isinstance(mount, BindMount):
            volumes.append({"name": name, "hostPath": {"path": mount.src_path}})
        elif isinstance(mount, VolumeMount):
            claim = {"claimName": mount.src, "readOnly": mount.read_only}
            volumes.append({"name": name, "persistentVolumeClaim": claim})
        elif isinstance(mount, DeviceMount):
            volumes.append({"name": name, "hostPath": {"path": mount.src_path}})
            ctr.setdefault("securityContext", {"privileged": True})
        read_only = getattr(mount, "read_only", False)
        mounts.append({"name": name, "mountPath": mount.dst_path, "readOnly": read_only})
    if options.shm_size:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory",
                                                      "sizeLimit": options.shm_size}})  # fmt: skip
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    if volumes:
        spec["volumes"] = volumes
        ctr["volumeMounts"] = mounts
    _pod_options(spec, options)
    return deep_merge(spec, options.pod_overlay) if options.pod_overlay else spec


def _pod_options(spec: dict[str, Any], options: KubernetesOptions) -> None:
    if options.service_account:
        spec["serviceAccountName"] = options.service_account
    if options.priority_class:
        spec["priorityClassName"] = options.priority_class
    if options.node_selector:
        spec["nodeSelector"] = dict(options.node_selector)
    if options.tolerations:
        spec["tolerations"] = list(options.tolerations)
    if options.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in options.image_pull_secrets]


def base_env(role: Role, macros: Macros, app_id: str, rank0: str) -> dict[str, str]:
    """The role's env with macros expanded (``${replica_id}`` left as a slot) and ours added."""
    env = {k: macros.substitute(v) for k, v in role.env.items()}
    env.update({ROLE_ENV: role.name, NUM_REPLICAS_ENV: str(role.num_replicas),
                APP_ID_ENV: app_id, RANK0_HOST_ENV: rank0})  # fmt: skip
    return env


def role_jobs(
    role: Role,
    index: int,
    options: KubernetesOptions,
    app_id: str,
    base: dict[str, str],
    stem: str,
    rank0: str,
) -> list[dict[str, Any]]:
    """One Job per replica of ``role``; pods retry up to ``max_retries`` (backoffLimit)."""
    # Macros are expanded once per role with a slot for ${replica_id}; per replica
    # only a str.join remains, which keeps a 1000-replica dry run in milliseconds.
    macros = Macros(app_id=app_id, replica_id=_SLOT)
    args = [macros.substitute(a).split(_SLOT) for a in role.args]
    env = base_env(role, macros, app_id, rank0)
    role_labels = {**base, LABEL_ROLE: dns_label(role.name, 63), LABEL_ROLE_INDEX: str(index)}
    if options.queue:
        role_labels[KUEUE_QUEUE_LABEL] = options.queue
    out = []
    for k in range(role.num_replicas):
        rid = str(k)
        labels = {**role_labels, LABEL_REPLICA: rid}
        env_list = [{"name": n, "value": rid.join(v.split(_SLOT))} for n, v in env.items()]
        env_list.append({"name": REPLICA_ID_ENV, "value": rid})
        ctr = container(role, options, env_list)
        ctr["args"] = [rid.join(parts) for parts in args]
        pod = pod_spec(role, options, ctr)
        pod["hostname"] = f"{stem}-{rid}"
        pod["subdomain"] = app_id
        job_spec: dict[str, Any] = {
            "backoffLimit": role.max_retries, "completions": 1, "parallelism": 1,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        }  # fmt: skip
        if options.queue:
            job_spec["suspend"] = True  # Kueue unsuspends a Job when it admits it
        out.append({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"{app_id}-{stem}-{rid}", "namespace": options.namespace,
                         "labels": labels},
            "spec": job_spec,
        })  # fmt: skip
    return out
