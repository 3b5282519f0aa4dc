"""The kubernetes scheduler's dry run: manifests, labels, options, overlay, retries."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import yaml

from torchrun_core.errors import InvalidInputError, InvalidOptionError
from torchrun_core.schedulers.kubernetes.manifests import (
    LABEL_APP,
    LABEL_REPLICA,
    LABEL_ROLE,
    LABEL_SESSION,
    deep_merge,
    new_app_id,
)
from torchrun_core.schedulers.kubernetes.options import KubernetesOptions
from torchrun_core.schedulers.kubernetes.plan import build_manifests
from torchrun_core.schedulers.kubernetes.scheduler import KubernetesScheduler
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.mounts import BindMount, DeviceMount, VolumeMount
from torchrun_core.specs.resource import Resource


def _app(replicas: int = 2, **role: Any) -> AppDef:
    trainer = Role(
        name="trainer", image="img:1", entrypoint="python",
        args=["-m", "train", "--rank=${replica_id}", "--app=${app_id}"],
        env={"A": "x${replica_id}", "API_TOKEN": "s3cret-value"}, num_replicas=replicas, **role,
    )  # fmt: skip
    return AppDef(name="My_App", roles=[trainer, Role(name="ps", image="img:1", entrypoint="ps")])


def _build(app: AppDef, **opts: Any) -> list[dict[str, Any]]:
    return build_manifests(app, KubernetesOptions(**opts), app_id="my-app-12345678", session="s1")


def _env(job: dict[str, Any]) -> dict[str, str]:
    ctr = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", "") for e in ctr["env"]}


def test_default_is_one_service_and_one_job_per_replica() -> None:
    manifests = _build(_app(3))
    kinds = [m["kind"] for m in manifests]
    assert kinds == ["Service", "Job", "Job", "Job", "Job"]
    service = manifests[0]
    assert service["spec"]["clusterIP"] == "None"
    assert service["metadata"]["name"] == "my-app-12345678"
    for m in manifests:
        labels = m["metadata"]["labels"]
        assert labels[LABEL_APP] == "my-app-12345678" and labels[LABEL_SESSION] == "s1"
    jobs = manifests[1:4]
    for k, job in enumerate(jobs):
        assert job["metadata"]["labels"][LABEL_REPLICA] == str(k)
        assert job["metadata"]["labels"][LABEL_ROLE] == "trainer"
        pod = job["spec"]["template"]["spec"]
        assert pod["hostname"] == f"trainer-{k}" and pod["subdomain"] == "my-app-12345678"
        assert pod["containers"][0]["args"][2:] == [f"--rank={k}", "--app=my-app-12345678"]
        env = _env(job)
        assert env["A"] == f"x{k}" and env["TORCHRUN_CORE_REPLICA_ID"] == str(k)
        # rank 0's DNS name, checked without resolving it (no cluster DNS in tests)
        assert env["TORCHRUN_CORE_RANK0_HOST"] == "trainer-0.my-app-12345678.default.svc"
        assert job["spec"]["template"]["metadata"]["labels"][LABEL_APP] == "my-app-12345678"


def test_replica_retries_go_to_backoff_limit() -> None:
    jobs = _build(_app(1, max_retries=3, retry_policy="REPLICA"))[1:]
    assert jobs[0]["spec"]["backoffLimit"] == 3
    assert jobs[0]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("policy", ["ROLE", "APPLICATION"])
def test_app_wide_retries_need_jobset(policy: str) -> None:
    with pytest.raises(InvalidInputError, match="cannot be done with plain Jobs") as err:
        _build(_app(1, max_retries=1, retry_policy=policy))
    assert "jobset=true" in str(err.value.hint)
    jobset = _build(_app(1, max_retries=2, retry_policy=policy), jobset=True)[0]
    assert jobset["spec"]["failurePolicy"] == {"maxRestarts": 2}


def test_jobset_has_one_replicated_job_per_role() -> None:
    (jobset,) = _build(_app(4), jobset=True, queue="team-a")
    assert jobset["apiVersion"] == "jobset.x-k8s.io/v1alpha2" and jobset["kind"] == "JobSet"
    assert jobset["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"
    assert jobset["spec"]["suspend"] is True
    rjobs = jobset["spec"]["replicatedJobs"]
    assert [(r["name"], r["replicas"]) for r in rjobs] == [("trainer", 4), ("ps", 1)]
    ctr = rjobs[0]["template"]["spec"]["template"]["spec"]["containers"][0]
    assert ctr["env"][0]["name"] == "TORCHRUN_CORE_REPLICA_ID"
    assert "job-index" in ctr["env"][0]["valueFrom"]["fieldRef"]["fieldPath"]
    assert "--rank=$(TORCHRUN_CORE_REPLICA_ID)" in ctr["args"]


def test_queue_labels_and_suspends_plain_jobs() -> None:
    jobs = _build(_app(1), queue="team-a")[1:]
    assert all(j["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a" for j in jobs)
    assert all(j["spec"]["suspend"] is True for j in jobs)


def test_pod_options_resources_and_mounts() -> None:
    app = _app(
        1,
        resource=Resource(cpu=1.5, memory_mb=2048, gpu=2),
        port_map={"http": 8080},
        mounts=[BindMount(src_path="/data", dst_path="/d", read_only=True),
                VolumeMount(src="claim", dst_path="/v"),
                DeviceMount(src_path="/dev/fuse", dst_path="/dev/fuse")],
    )  # fmt: skip
    job = _build(
        app, namespace="ml", service_account="sa", priority_class="high",
        node_selector="pool=gpu,zone=a", tolerations='[{"key": "gpu", "operator": "Exists"}]',
        image_pull_policy="Never", image_pull_secrets="reg1,reg2", shm_size="1Gi",
    )[1]  # fmt: skip
    assert job["metadata"]["namespace"] == "ml"
    pod = job["spec"]["template"]["spec"]
    ctr = pod["containers"][0]
    assert ctr["resources"]["limits"] == {"cpu": "1500m", "memory": "2048Mi", "nvidia.com/gpu": "2"}
    assert ctr["imagePullPolicy"] == "Never"
    assert ctr["ports"] == [{"name": "http", "containerPort": 8080}]
    assert pod["serviceAccountName"] == "sa" and pod["priorityClassName"] == "high"
    assert pod["nodeSelector"] == {"pool": "gpu", "zone": "a"}
    assert pod["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert pod["imagePullSecrets"] == [{"name": "reg1"}, {"name": "reg2"}]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["mount-0"]["hostPath"] == {"path": "/data"}
    assert volumes["mount-1"]["persistentVolumeClaim"]["claimName"] == "claim"
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert {m["mountPath"] for m in ctr["volumeMounts"]} == {"/d", "/v", "/dev/fuse", "/dev/shm"}


def test_pod_overlay_is_deep_merged() -> None:
    overlay = (
        '{"securityContext": {"runAsUser": 1000}, "dnsPolicy": "None", "nodeSelector": {"b": "2"}}'
    )
    pod = _build(_app(1), pod_overlay=overlay, node_selector="a=1")[1]["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsUser": 1000}
    assert pod["dnsPolicy"] == "None"
    assert pod["nodeSelector"] == {"a": "1", "b": "2"}  # dicts merge
    assert pod["restartPolicy"] == "Never"  # untouched keys stay


def test_deep_merge_replaces_non_dicts_and_keeps_inputs() -> None:
    base = {"a": {"b": 1, "c": [1]}, "d": 1}
    assert deep_merge(base, {"a": {"c": [2]}, "e": 3}) == {"a": {"b": 1, "c": [2]}, "d": 1, "e": 3}
    assert base == {"a": {"b": 1, "c": [1]}, "d": 1}


def test_app_ids_and_names_are_dns_labels() -> None:
    app_id = new_app_id("My_App.With-Long_Name_That_Goes_On")
    assert app_id == app_id.lower() and "_" not in app_id and len(app_id) <= 33
    jobs = build_manifests(_app(1000), KubernetesOptions(), app_id=app_id, session="s")[1:]
    assert max(len(j["metadata"]["name"]) for j in jobs) <= 63


def test_bad_options_are_named() -> None:
    sched = KubernetesScheduler("s")
    with pytest.raises(InvalidOptionError, match="namespace"):
        sched.dryrun(_app(1), {"namespace": "Bad_NS"})
    with pytest.raises(InvalidOptionError, match="pod_overlay"):
        sched.dryrun(_app(1), {"pod_overlay": "{not json"})
    with pytest.raises(InvalidOptionError, match="image_pull_policy"):
        sched.dryrun(_app(1), {"image_pull_policy": "sometimes"})


def test_dryrun_prints_yaml_with_secrets_redacted_and_no_sdk(tmp_path: Any) -> None:
    sched = KubernetesScheduler("s", state_dir=tmp_path)
    info = sched.dryrun(_app(2), {"namespace": "ml"})
    text = str(info)
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs if d] == ["Service", "Job", "Job", "Job"]
    assert "s3cret-value" not in text and "***" in text
    assert info.app_id and info.app_id in text
    # an unredacted request is what schedule submits
    assert _env(info.request["manifests"][1])["API_TOKEN"] == "s3cret-value"


def test_plugin_module_does_not_import_the_sdk() -> None:
    import subprocess

    code = (
        "import sys, torchrun_core.schedulers.kubernetes as k;"
        "from torchrun_core.registry import get_registry; get_registry();"
        "from torchrun_core.schedulers.kubernetes.scheduler import KubernetesScheduler as S;"
        "from torchrun_core.specs.app import AppDef, Role;"
        "S('s').dryrun(AppDef(name='a', roles=[Role(name='r', image='i', entrypoint='e')]));"
        "print('kubernetes' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
