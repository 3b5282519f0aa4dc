"""Run options of the kubernetes scheduler (``torchrun-core runopts kubernetes``)."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import Field, field_validator

from torchrun_core.limits import MAX_GRACE_PERIOD_S
from torchrun_core.scheduler import SchedulerOptions
from torchrun_core.schedulers.shared.image_repo import DESCRIPTION, check_image_repo

PullPolicy = Literal["Never", "IfNotPresent", "Always"]
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A Secret's name is a DNS-1123 subdomain: labels joined by '.', 253 characters at most.
_DNS_SUBDOMAIN_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _json_or_value(value: Any) -> Any:
    # --cfg gives strings: structured options are written as JSON there.
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError as err:
            raise ValueError(f"invalid JSON: {err}") from None
    return value


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class KubernetesOptions(SchedulerOptions):
    """Run options of the kubernetes scheduler."""

    namespace: str = Field(default="default", description="namespace of every object")
    kubeconfig: str | None = Field(
        default=None,
        description="kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else the "
        "in-cluster service account)",
    )
    context: str | None = Field(default=None, description="kubeconfig context to use")
    jobset: bool = Field(
        default=False,
        description="emit one JobSet (jobset.x-k8s.io/v1alpha2) instead of plain Jobs; "
        "needs the JobSet controller",
    )
    queue: str | None = Field(
        default=None,
        description="Kueue LocalQueue: sets kueue.x-k8s.io/queue-name and creates the Jobs "
        "suspended, for Kueue to admit",
    )
    service_account: str | None = Field(default=None, description="pods' service account")
    priority_class: str | None = Field(default=None, description="pods' priority class")
    node_selector: dict[str, str] = Field(
        default_factory=dict, description="pods' node selector (JSON or k=v,k2=v2)"
    )
    tolerations: list[dict[str, Any]] = Field(
        default_factory=list, description="pods' tolerations (a JSON list)"
    )
    image_pull_policy: PullPolicy | None = Field(
        default=None, description="Never, IfNotPresent or Always (default: Kubernetes')"
    )
    image_pull_secrets: list[str] = Field(
        default_factory=list,
        description="names of docker-registry Secrets in the namespace that the nodes pull "
        "with, comma-separated (kubectl create secret docker-registry NAME ...)",
    )
    image_repo: str | None = Field(
        default=None, description=DESCRIPTION + " (needed by --workspace: nodes pull from it)"
    )
    docker_host: str | None = Field(
        default=None,
        description="docker daemon that builds and pushes --workspace images (default: "
        "DOCKER_HOST)",
    )
    shm_size: str | None = Field(
        default=None,
        description="mount a memory emptyDir of this size (a quantity like 1Gi) on /dev/shm",
    )
    pod_overlay: dict[str, Any] = Field(
        default_factory=dict,
        description="a pod spec (JSON) deep-merged into every pod: dicts merge, other values "
        "replace; covers any field without an option",
    )
    grace_period: int = Field(
        default=30,
        ge=0,
        le=MAX_GRACE_PERIOD_S,  # terminationGracePeriodSeconds is an int64
        description="pods' termination grace period (s)",
    )

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _DNS_LABEL_RE.match(value) or len(value) > 63:
            raise ValueError("must be a DNS label (lowercase letters, digits, '-')")
        return value

    @field_validator("node_selector", mode="before")
    @classmethod
    def _selector(cls, value: Any) -> Any:
        value = _json_or_value(value)
        if isinstance(value, str):
            pairs = [p.partition("=") for p in _comma_list(value)]
            if any(not sep or not key for key, sep, _ in pairs):
                raise ValueError("expected JSON or key=value pairs, comma-separated")
            return {key.strip(): val.strip() for key, _, val in pairs}
        return value

    @field_validator("tolerations", "pod_overlay", mode="before")
    @classmethod
    def _structured(cls, value: Any) -> Any:
        return _json_or_value(value)

    @field_validator("image_pull_secrets", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("image_pull_secrets")
    @classmethod
    def _secret_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if len(name) > 253 or not _DNS_SUBDOMAIN_RE.match(name):
                raise ValueError(
                    f"{name!r} is not a Secret name (lowercase letters, digits, '-' and '.')"
                )
        return value

    @field_validator("image_repo")
    @classmethod
    def _repo(cls, value: str | None) -> str | None:
        return check_image_repo(value)

    @field_validator("docker_host")
    @classmethod
    def _docker_host(cls, value: str | None) -> str | None:
        # An empty value means the default, as for image_repo.
        if value is None or not value.strip():
            return None
        return value.strip()
