"""The docker dry run, without a daemon: create bodies, names, labels, options."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from torchrun_core.errors import InvalidInputError, InvalidOptionError
from torchrun_core.schedulers.docker.plan import DockerPlan, build_plan
from torchrun_core.schedulers.docker.scheduler import DockerScheduler
from torchrun_core.specs.app import AppDef, Role

IMAGE = "torchrun-core/busybox:latest"


def two_roles(**trainer: Any) -> AppDef:
    return AppDef(
        name="job",
        roles=[
            Role(
                name="trainer",
                image=IMAGE,
                entrypoint="python",
                args=["-m", "train", "--rank", "${replica_id}", "--app", "${app_id}"],
                env={"A": "1", "WHO": "r${replica_id}", "API_TOKEN": "s3cr3t-value"},
                num_replicas=2,
                **trainer,
            ),
            Role(name="ps_server", image="other:1", entrypoint="serve"),
        ],
    )


def plan_of(app: AppDef, **cfg: Any) -> DockerPlan:
    sched = DockerScheduler("sess")
    info = sched.dryrun(app, cfg)
    assert isinstance(info.request, DockerPlan)
    return info.request


def env_of(body: dict[str, Any]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in body["Env"])


def test_one_container_per_replica_with_stable_names_and_labels() -> None:
    plan = plan_of(two_roles())
    app_id = plan.app_id
    assert app_id.startswith("job-")
    assert [c.name for c in plan.containers] == [
        f"{app_id}-trainer-0", f"{app_id}-trainer-1", f"{app_id}-ps_server-0",
    ]  # fmt: skip
    assert [c.hostname for c in plan.containers] == ["trainer-0", "trainer-1", "ps-server-0"]
    assert plan.network == f"torchrun_core-{app_id}" and plan.create_network
    assert plan.images == (IMAGE, "other:1")
    body = plan.containers[1].body
    assert body["Labels"] == {
        "torchrun_core.app_id": app_id, "torchrun_core.app_name": "job",
        "torchrun_core.session": "sess", "torchrun_core.role": "trainer",
        "torchrun_core.role_index": "0", "torchrun_core.replica_id": "1",
        "torchrun_core.num_replicas": "2", "torchrun_core.attempt": "0",
        "torchrun_core.max_retries": "0", "torchrun_core.retry_policy": "APPLICATION",
        "torchrun_core.grace_period": "10",
    }  # fmt: skip
    assert body["Hostname"] == "trainer-1"
    assert body["NetworkingConfig"] == {
        "EndpointsConfig": {plan.network: {"Aliases": ["trainer-1"]}}
    }
    assert body["HostConfig"]["NetworkMode"] == plan.network
    assert body["HostConfig"]["Init"] is True
    assert body["HostConfig"]["Privileged"] is False


def test_command_env_and_macros_per_replica() -> None:
    plan = plan_of(two_roles())
    body = plan.containers[1].body
    assert body["Entrypoint"] == ["python"]
    assert body["Cmd"] == ["-m", "train", "--rank", "1", "--app", plan.app_id]
    env = env_of(body)
    assert env["WHO"] == "r1" and env["A"] == "1"
    assert env["TORCHRUN_CORE_RANK0_HOST"] == "trainer-0"
    assert env["TORCHRUN_CORE_REPLICA_ID"] == "1"
    assert env["TORCHRUN_CORE_NUM_REPLICAS"] == "2"
    assert env["TORCHRUN_CORE_ATTEMPT"] == "0"
    assert env["TORCHRUN_CORE_ROLE"] == "trainer"
    assert env_of(plan.containers[2].body)["TORCHRUN_CORE_RANK0_HOST"] == "trainer-0"


def test_resources_mounts_ports_and_options(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = two_roles(
        resource={"cpu": "1500m", "memory_mb": "1Gi", "gpu": 2},
        mounts=[
            {"type": "bind", "src_path": "rel/dir", "dst_path": "/data", "read_only": True},
            {"type": "volume", "src": "cache", "dst_path": "/cache"},
            {"type": "device", "src_path": "/dev/fuse", "dst_path": "/dev/fuse"},
        ],
        port_map={"http": 8080},
    )
    host = plan_of(app, shm_size="2g", privileged=True, init=False).containers[0].body
    config = host["HostConfig"]
    assert config["NanoCpus"] == 1_500_000_000
    assert config["Memory"] == 1 << 30
    assert config["DeviceRequests"] == [
        {"Driver": "", "Count": 2, "Capabilities": [["gpu"]], "Options": {}}
    ]
    assert config["ShmSize"] == 2 << 30
    assert config["Privileged"] is True and "Init" not in config
    assert config["Mounts"] == [
        {"Type": "bind", "Source": str(tmp_path / "rel" / "dir"), "Target": "/data",
         "ReadOnly": True},
        {"Type": "volume", "Source": "cache", "Target": "/cache", "ReadOnly": False},
    ]  # fmt: skip
    assert config["Devices"] == [
        {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}
    ]
    assert config["PortBindings"] == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}
    assert host["ExposedPorts"] == {"8080/tcp": {}}


def test_host_network_and_existing_network() -> None:
    plan = plan_of(two_roles(port_map={"http": 8080}), network_mode="host")
    body = plan.containers[0].body
    assert not plan.create_network and plan.network == "host"
    assert "Hostname" not in body and "NetworkingConfig" not in body
    assert "PortBindings" not in body["HostConfig"]
    assert env_of(body)["TORCHRUN_CORE_RANK0_HOST"] == "localhost"

    plan = plan_of(two_roles(), network_mode="shared")
    body = plan.containers[1].body
    assert not plan.create_network
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"shared": {"Aliases": []}}}
    assert env_of(body)["TORCHRUN_CORE_RANK0_HOST"] == f"{plan.app_id}-trainer-0"


def test_copy_env_takes_names_and_globs_from_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", "/hf")
    monkeypatch.setenv("AWS_REGION", "eu")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "topsecretvalue")
    plan = plan_of(two_roles(), copy_env="HF_HOME,AWS_*")
    env = env_of(plan.containers[0].body)
    assert env["HF_HOME"] == "/hf" and env["AWS_REGION"] == "eu"
    assert env["AWS_SECRET_ACCESS_KEY"] == "topsecretvalue"
    from torchrun_core.schedulers.docker.plan_text import format_plan

    text = format_plan(plan)
    assert "topsecretvalue" not in text and "s3cr3t-value" not in text
    assert "AWS_SECRET_ACCESS_KEY=***" in text
    dumped = json.dumps(plan.to_dict())
    assert "topsecretvalue" not in dumped and "s3cr3t-value" not in dumped


def test_plan_round_trips_through_json() -> None:
    plan = plan_of(two_roles(max_retries=3, retry_policy="REPLICA"))
    again = DockerPlan.from_dict(json.loads(json.dumps(plan.to_dict(redact=False))))
    assert again == plan
    assert again.needs_supervisor


def test_readable_dry_run_names_daemon_network_and_containers() -> None:
    sched = DockerScheduler("sess", host="tcp://example:2375")
    text = str(sched.dryrun(two_roles()))
    assert "daemon:  tcp://example:2375" in text
    assert "argv   python -m train --rank 0 --app job-" in text
    assert "API_TOKEN=***" in text and "s3cr3t-value" not in text


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ({"image": ""}, "role 'r' has no image"),
        ({"args": ["a\0b"]}, "contain a NUL byte"),
    ],
)
def test_bad_roles_are_refused_at_dry_run(role: dict[str, Any], message: str) -> None:
    app = AppDef(
        name="bad", roles=[Role(**{"name": "r", "image": IMAGE, "entrypoint": "x", **role})]
    )
    with pytest.raises(InvalidInputError, match=message):
        plan_of(app)


def test_roles_with_the_same_hostname_are_refused() -> None:
    app = AppDef(
        name="clash",
        roles=[
            Role(name="a_b", image=IMAGE, entrypoint="x"),
            Role(name="a.b", image=IMAGE, entrypoint="x"),
        ],
    )
    with pytest.raises(InvalidInputError, match="same hostname 'a-b'"):
        plan_of(app)


@pytest.mark.parametrize(
    ("cfg", "option"),
    [
        ({"image_pull_policy": "sometimes"}, "image_pull_policy"),
        ({"shm_size": "lots"}, "shm_size"),
        ({"grace_period": -1}, "grace_period"),
        ({"network_mode": " "}, "network_mode"),
        ({"nope": 1}, "nope"),
    ],
)
def test_bad_options_name_the_option(cfg: dict[str, Any], option: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        plan_of(two_roles(), **cfg)
    assert caught.value.option == option


def test_unknown_scheduler_parameter_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="unknown parameter"):
        DockerScheduler("s", colour="blue")


def test_thousand_replica_plan_builds_without_the_sdk() -> None:
    """Discovery and dry runs never import the docker SDK (it may not be installed)."""
    code = textwrap.dedent(
        """
        import json, sys
        from torchrun_core.registry import get_registry
        from torchrun_core.runner import Runner
        from torchrun_core.specs.app import AppDef, Role
        registry = get_registry()
        assert "docker" in registry.names("schedulers"), registry.load_errors
        assert "docker" in registry.names("workspace_builders"), registry.load_errors
        app = AppDef(name="big", roles=[Role(name="w", image="img", entrypoint="x",
                                             num_replicas=1000)])
        info = Runner("s").dryrun(app, "docker")
        assert len(info.request.containers) == 1000
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
                                ("docker", "requests", "urllib3"))))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == []


def test_build_plan_directly_for_a_given_app_id() -> None:
    from torchrun_core.schedulers.docker.options import DockerOptions

    plan = build_plan(two_roles(), DockerOptions(), app_id="job-fixed", session="s", environ={})
    assert plan.containers[0].name == "job-fixed-trainer-0"
