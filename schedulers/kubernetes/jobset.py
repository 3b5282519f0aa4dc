"""The ``jobset`` option's manifest: one JobSet (jobset.x-k8s.io/v1alpha2) per app.

Each role is a replicatedJob of ``num_replicas`` one-pod Jobs. The JobSet
controller names pods ``<app id>-<role>-<k>-0`` under the subdomain ``<app id>``
and sets the Job index as an annotation, which the downward API turns into the
replica id; ``${replica_id}`` in args becomes ``$(TORCHRUN_CORE_REPLICA_ID)``,
which the kubelet expands. ``failurePolicy.maxRestarts`` restarts the whole
JobSet: that is the APPLICATION retry policy done by the controller.
"""

from __future__ import annotations

from typing import Any

from torchrun_core.schedulers.kubernetes.manifests import (
    JOBSET_INDEX_ANNOTATION,
    KUEUE_QUEUE_LABEL,
    LABEL_ROLE,
    LABEL_ROLE_INDEX,
    REPLICA_ID_ENV,
    base_env,
    container,
    dns_label,
    pod_spec,
)
from torchrun_core.schedulers.kubernetes.options import KubernetesOptions
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.macros import Macros

_ENV_REF = f"$({REPLICA_ID_ENV})"


def build_jobset(
    app: AppDef,
    options: KubernetesOptions,
    *,
    app_id: str,
    labels: dict[str, str],
    stems: dict[str, str],
) -> dict[str, Any]:
    """The app as one JobSet; retries are the largest ``max_retries`` of its roles."""
    first = app.roles[0]
    rank0 = f"{app_id}-{stems[first.name]}-0-0.{app_id}.{options.namespace}.svc"
    jobset_labels = dict(labels)
    if options.queue:
        jobset_labels[KUEUE_QUEUE_LABEL] = options.queue
    spec: dict[str, Any] = {
        "network": {"enableDNSHostnames": True, "subdomain": app_id},
        "failurePolicy": {"maxRestarts": max(r.max_retries for r in app.roles)},
        "replicatedJobs": [
            _replicated_job(role, i, options, app_id, labels, stems[role.name], rank0)
            for i, role in enumerate(app.roles)
        ],
    }
    if options.queue:
        spec["suspend"] = True
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "metadata": {"name": app_id, "namespace": options.namespace, "labels": jobset_labels},
        "spec": spec,
    }


def _replicated_job(
    role: Role,
    index: int,
    options: KubernetesOptions,
    app_id: str,
    labels: dict[str, str],
    stem: str,
    rank0: str,
) -> dict[str, Any]:
    macros = Macros(app_id=app_id, replica_id=_ENV_REF)
    env: list[dict[str, Any]] = [
        {"name": n, "value": v} for n, v in base_env(role, macros, app_id, rank0).items()
    ]
    field = f"metadata.annotations['{JOBSET_INDEX_ANNOTATION}']"
    # First, so that $(TORCHRUN_CORE_REPLICA_ID) in later values and args expands.
    env.insert(0, {"name": REPLICA_ID_ENV, "valueFrom": {"fieldRef": {"fieldPath": field}}})
    ctr = container(role, options, env)
    ctr["args"] = [macros.substitute(a) for a in role.args]
    pod_labels = {**labels, LABEL_ROLE: dns_label(role.name, 63), LABEL_ROLE_INDEX: str(index)}
    job: dict[str, Any] = {
        "metadata": {"labels": pod_labels},
        "spec": {
            "backoffLimit": 0, "completions": 1, "parallelism": 1,
            "template": {"metadata": {"labels": pod_labels},
                         "spec": pod_spec(role, options, ctr)},
        },
    }  # fmt: skip
    return {"name": stem, "replicas": role.num_replicas, "template": job}
