"""Every generated manifest validates (strict) against the newest Kubernetes schemas.

The test cluster is 1.20; ``kubernetes-validate`` ships the schemas of
1.25 and newer. It has no CRD schemas, so a JobSet is checked through each of
its embedded Job templates, as a batch/v1 Job.
"""

from __future__ import annotations

from typing import Any

import pytest
from ci_rules import require_installed

from torchrun_core.schedulers.kubernetes.options import KubernetesOptions
from torchrun_core.schedulers.kubernetes.plan import build_manifests
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.mounts import BindMount, VolumeMount
from torchrun_core.specs.resource import Resource

OPTIONS = [
    {},
    {"queue": "q", "namespace": "ml", "service_account": "sa", "priority_class": "p",
     "node_selector": "a=b", "tolerations": '[{"key": "k", "operator": "Exists"}]',
     "image_pull_policy": "Never", "image_pull_secrets": "r", "shm_size": "1Gi",
     "pod_overlay": '{"securityContext": {"runAsNonRoot": true}}'},
]  # fmt: skip


def _validator() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        require_installed("kubernetes-validate", False, "pip install -e '.[dev]'")
        raise
    return kubernetes_validate


def _app() -> AppDef:
    role = Role(
        name="train_er", image="img", entrypoint="python", args=["-c", "${replica_id}"],
        env={"X": "1"}, num_replicas=3, max_retries=2, retry_policy="REPLICA",
        resource=Resource(cpu=0.5, memory_mb=512, gpu=1), port_map={"c10d": 29500},
        mounts=[BindMount(src_path="/d", dst_path="/d"), VolumeMount(src="pvc", dst_path="/v")],
    )  # fmt: skip
    return AppDef(name="app", roles=[role, Role(name="ps", image="i", entrypoint="e")])


@pytest.mark.parametrize("opts", OPTIONS)
def test_plain_manifests_validate_strictly(opts: dict[str, Any]) -> None:
    kv = _validator()
    version = kv.latest_version()
    manifests = build_manifests(_app(), KubernetesOptions(**opts), app_id="app-x", session="s")
    for manifest in manifests:
        kv.validate(manifest, version, strict=True)


def test_jobset_job_templates_validate_strictly() -> None:
    kv = _validator()
    options = KubernetesOptions(jobset=True, **OPTIONS[1])
    (jobset,) = build_manifests(_app(), options, app_id="app-x", session="s")
    for rjob in jobset["spec"]["replicatedJobs"]:
        job = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": f"app-x-{rjob['name']}", **rjob["template"]["metadata"]},
               "spec": rjob["template"]["spec"]}  # fmt: skip
        kv.validate(job, kv.latest_version(), strict=True)


def test_an_invalid_manifest_is_caught() -> None:
    kv = _validator()
    (job,) = build_manifests(_app(), KubernetesOptions(), app_id="app-x", session="s")[1:2]
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    with pytest.raises(kv.ValidationError):
        kv.validate(job, kv.latest_version(), strict=True)
