"""``dist.ddp`` and ``dist.spmd``: the torchrun command they build, checked without torch.

The dry runs check the local scheduler's plan (macros expanded). Where the
command crosses a shell, a fake interpreter that prints its arguments as JSON
stands in for Python, so that the test sees exactly the words torchrun would
get: the rank-0 host expanded by the shell, everything else literal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from torchrun_core.component_loading.loader import build_app, component_help
from torchrun_core.components.dist import (
    DEFAULT_RDZV_PORT,
    ddp,
    parse_shape,
    spmd,
    tee_program,
)
from torchrun_core.errors import ComponentError, SpecError
from torchrun_core.hookspecs import hookimpl
from torchrun_core.registry import PluginRegistry, get_registry
from torchrun_core.runner import Runner
from torchrun_core.schedulers.local.plan import LocalPlan
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.macros import RANK0_HOST_ENV, Macros
from torchrun_core.specs.resource import Resource
from torchrun_core.specs.state import AppState

TORCHRUN = [sys.executable, "-c", tee_program()]  # torchrun with whole, rank-prefixed lines
# Shell-hostile script arguments: each must reach the script as one literal word.
HOSTILE_ARGS = ["a b", "$(touch pwned)", "'; touch pwned; '", '"$HOME"', "--lr=0.1", "*"]


@pytest.fixture
def runner() -> Iterator[Runner]:
    with Runner("dist-unit") as made:
        yield made


@pytest.fixture
def fake_python(tmp_path: Path) -> str:
    """An "interpreter" that prints the arguments it was given as one JSON line."""
    path = tmp_path / "fake-python"
    path.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    path.chmod(0o755)
    return str(path)


def plan_of(runner: Runner, component: str, args: list[str]) -> LocalPlan:
    info = runner.dryrun_component(component, args, "local")
    assert isinstance(info.request, LocalPlan)
    return info.request


def option(words: list[str], name: str) -> str:
    """The value following option ``name`` in ``words``."""
    return words[words.index(name) + 1]


# -- the command, from dry runs ----------------------------------------------
def test_one_node_runs_torchrun_directly_on_a_free_localhost_port(runner: Runner) -> None:
    plan = plan_of(runner, "dist.ddp", ["--j", "1x2", "--script", "train.py", "--", "--lr", "1"])
    (role,) = plan.roles
    (replica,) = role.replicas
    argv = list(replica.argv)
    assert argv[:3] == TORCHRUN  # no shell: nothing needs expanding on one node
    assert option(argv, "--nnodes") == "1"
    assert option(argv, "--nproc-per-node") == "2"
    assert option(argv, "--rdzv-backend") == "c10d"
    assert option(argv, "--rdzv-endpoint") == "localhost:0"
    assert option(argv, "--rdzv-id") == plan.app_id  # the ${app_id} macro, expanded
    assert option(argv, "--max-restarts") == "0"
    assert argv[-3:] == ["train.py", "--lr", "1"]
    assert role.name == "train"


def test_one_node_with_a_port_uses_it(runner: Runner) -> None:
    plan = plan_of(runner, "dist.ddp", ["--j", "1x1", "--script", "t.py", "--rdzv_port", "4242"])
    assert option(list(plan.roles[0].replicas[0].argv), "--rdzv-endpoint") == "localhost:4242"


def test_nodes_become_replicas_that_meet_at_rank0(runner: Runner) -> None:
    plan = plan_of(runner, "dist.ddp", ["--j", "3x4", "--m", "pkg.trainer", "--max_restarts", "2"])
    (role,) = plan.roles
    assert role.name == "trainer"
    assert [r.replica_id for r in role.replicas] == [0, 1, 2]
    assert len({r.argv for r in role.replicas}) == 1  # every node runs the same command
    entrypoint, flag, line = role.replicas[0].argv
    assert (entrypoint, flag) == ("sh", "-c")
    assert "does not resolve" in line.split("; exec ", 1)[0]  # checked before torchrun starts
    assert f'"${{{RANK0_HOST_ENV}:?' in line  # read from the environment by the shell
    assert f'}}:{DEFAULT_RDZV_PORT}"' in line
    assert f"--rdzv-id {plan.app_id} " in line
    assert "--nnodes 3 --nproc-per-node 4 " in line
    assert line.endswith("--max-restarts 2 -m pkg.trainer")


def test_elastic_shape_sets_min_replicas() -> None:
    (role,) = ddp(script="t.py", j="2:4x1").roles
    assert (role.num_replicas, role.min_replicas) == (4, 2)
    assert "--nnodes 2:4 " in role.args[1]
    assert role.port_map == {"rdzv": DEFAULT_RDZV_PORT}
    fixed = ddp(script="t.py", j="4x1").roles[0]
    assert (fixed.num_replicas, fixed.min_replicas) == (4, None)


@pytest.mark.parametrize(
    ("j", "expected"),
    [("1x2", (1, 1, 2)), ("2x1", (2, 2, 1)), ("1:3x8", (1, 3, 8)), (" 4x4 ", (4, 4, 4))],
)
def test_parse_shape(j: str, expected: tuple[int, int, int]) -> None:
    shape = parse_shape(j)
    assert (shape.min_nodes, shape.max_nodes, shape.nproc_per_node) == expected


def test_options_reach_the_role(runner: Runner) -> None:
    args = ["--j", "2x2", "--script", "t.py", "--env", "A=1,B=x y", "--rdzv_backend", "etcd-v2"]
    args += ["--rdzv_port", "1234", "--max_retries", "3", "--name", "my-job"]
    args += ["--cpu", "500m", "--memory", "4Gi", "--gpu", "1"]
    app = build_app("dist.ddp", args)
    (role,) = app.roles
    assert (app.name, role.name) == ("my-job", "my-job")
    assert role.env == {"A": "1", "B": "x y"}
    assert role.max_retries == 3
    assert (role.resource.cpu, role.resource.memory_mb, role.resource.gpu) == (0.5, 4096, 1)
    assert role.port_map == {"rdzv": 1234}
    assert "--rdzv-backend etcd-v2 " in role.args[1]
    assert '}:1234" ' in role.args[1]
    plan = plan_of(runner, "dist.ddp", args)
    assert plan.roles[0].max_retries == 3
    assert plan.roles[0].replicas[1].env["B"] == "x y"


def test_interpreter_is_this_python_locally_and_python3_in_an_image(tmp_path: Path) -> None:
    assert ddp(script="t.py").roles[0].entrypoint == sys.executable
    assert ddp(script="t.py", image=str(tmp_path)).roles[0].entrypoint == sys.executable
    assert ddp(script="t.py", image="trainer:latest").roles[0].entrypoint == "python3"
    assert ddp(script="t.py", image="ghcr.io/org/trainer:1").roles[0].entrypoint == "python3"
    assert ddp(script="t.py", j="2x1", image="trainer:1").roles[0].args[1].startswith("python3 -c ")
    assert ddp(script="t.py", interpreter="/opt/py/bin/python").roles[0].entrypoint == (
        "/opt/py/bin/python"
    )


def test_default_names_come_from_the_script_or_module() -> None:
    assert ddp(script="path/to/my train!.py").name == "my-train"
    assert ddp(m="a.b.c_d").name == "c_d"
    assert ddp(script="_.py").name == "torchrun"  # nothing usable in the name


# -- spmd: the same with SPMD defaults ----------------------------------------
def test_spmd_defaults_one_process_per_gpu_and_omp_threads() -> None:
    (cpu_only,) = spmd(script="t.py").roles
    assert (cpu_only.num_replicas, option(cpu_only.args, "--nproc-per-node")) == (1, "1")
    assert cpu_only.env == {"OMP_NUM_THREADS": "1"}
    (gpus,) = spmd(script="t.py", j="2", gpu=8).roles
    assert gpus.num_replicas == 2
    assert "--nproc-per-node 8 " in gpus.args[1]
    (explicit,) = spmd(script="t.py", j="1x3", gpu=8, env={"OMP_NUM_THREADS": "4"}).roles
    assert option(explicit.args, "--nproc-per-node") == "3"
    assert explicit.env == {"OMP_NUM_THREADS": "4"}  # --env wins over the default


class _GpuNodes:
    @hookimpl
    def torchrun_core_named_resources(self) -> dict[str, Any]:
        return {"test.gpu4": Resource(cpu=16, memory_mb=65536, gpu=4)}


def test_named_resource_with_fields_over_it(fresh_registry: PluginRegistry) -> None:
    fresh_registry.register(_GpuNodes(), name="test-gpu-nodes")
    assert get_registry() is fresh_registry
    (role,) = build_app("dist.spmd", ["--script", "t.py", "--resource", "test.gpu4"]).roles
    assert role.resource == Resource(cpu=16, memory_mb=65536, gpu=4)
    assert option(role.args, "--nproc-per-node") == "4"  # one worker per GPU of the resource
    (over,) = ddp(script="t.py", resource="test.gpu4", cpu="8").roles
    assert (over.resource.cpu, over.resource.gpu) == (8, 4)


# -- the shell: the rank-0 host expanded, everything else literal -------------
def test_multi_node_command_on_the_local_scheduler(
    runner: Runner, fake_python: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--j", "2x3", "--script", "my script.py", "--interpreter", fake_python]
    args += ["--rdzv_port", "4567", "--", *HOSTILE_ARGS]
    handle = runner.run_component("dist.ddp", args, "local")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.SUCCEEDED, status
    app_id = handle.app_id
    for k in (0, 1):
        (line,) = runner.log_lines(handle, k=k)
        words = json.loads(line)
        assert words[:2] == TORCHRUN[1:]
        assert option(words, "--rdzv-endpoint") == "localhost:4567"
        assert option(words, "--rdzv-id") == app_id
        assert option(words, "--nnodes") == "2"
        assert option(words, "--nproc-per-node") == "3"
        assert words[-len(HOSTILE_ARGS) - 1 :] == ["my script.py", *HOSTILE_ARGS]
    assert not (tmp_path / "pwned").exists()


def test_multi_node_command_fails_clearly_without_the_rank0_host(fake_python: str) -> None:
    (role,) = ddp(script="t.py", j="2x1", interpreter=fake_python).roles
    command = [role.entrypoint, *Macros(app_id="app-1").apply_args(role.args)]
    env = {k: v for k, v in os.environ.items() if k != RANK0_HOST_ENV}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert f"{RANK0_HOST_ENV}: is not set by the scheduler" in done.stderr
    env[RANK0_HOST_ENV] = "node-0.cluster"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert (
        option(json.loads(done.stdout), "--rdzv-endpoint") == f"node-0.cluster:{DEFAULT_RDZV_PORT}"
    )


def test_multi_node_command_fails_fast_when_rank0_host_does_not_resolve() -> None:
    (role,) = ddp(script="t.py", j="2x1", interpreter=sys.executable).roles
    command = [role.entrypoint, *Macros(app_id="app-1").apply_args(role.args)]
    env = {**os.environ, RANK0_HOST_ENV: "node1.invalid"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "torchrun_core: rank 0's host node1.invalid does not resolve on this node, so the "
        "rendezvous cannot reach it (the scheduler must give an address the nodes can resolve)"
    ]


# -- bad input ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--j", "2", "--script", "t.py"], "'2' is not [min:]NODESxPROCS"),
        (["--j", "x2", "--script", "t.py"], "is not [min:]NODESxPROCS"),
        (["--j", "2x", "--script", "t.py"], "is not [min:]NODESxPROCS"),
        (["--j", "1.5x2", "--script", "t.py"], "is not [min:]NODESxPROCS"),
        (["--j", "0x1", "--script", "t.py"], "at least 1"),
        (["--j", "2x0", "--script", "t.py"], "at least 1"),
        (["--j", "3:2x1", "--script", "t.py"], "minimum (3) exceeds the nodes (2)"),
        ([], "exactly one of --script or --m"),
        (["--script", "t.py", "--m", "pkg"], "exactly one of --script or --m"),
        (["--script=-t.py"], "starts with '-'"),
        (["--script", "t.py", "--j", "2x1", "--rdzv_port", "0"], "not a port number (1-65535)"),
        (["--script", "t.py", "--rdzv_port", "70000"], "not a port number (0-65535)"),
        (["--script", "t.py", "--max_restarts", "-1"], "must not be negative"),
        (["--script", "t.py", "--rdzv_backend", " "], "--rdzv_backend must not be empty"),
        (["--script", "t.py", "--resource", "no.such"], "unknown named resource 'no.such'"),
        (["--script", "t.py", "--j", "1xz"], "is not [min:]NODESxPROCS"),
    ],
)
def test_bad_arguments_name_the_argument(args: list[str], message: str) -> None:
    with pytest.raises(ComponentError) as caught:
        build_app("dist.ddp", args)
    assert message in str(caught.value)
    assert str(caught.value).startswith("component dist.ddp: ")
    assert caught.value.hint  # how to see the arguments


def test_spmd_shape_allows_leaving_out_procs_only() -> None:
    with pytest.raises(ComponentError, match=r"is not \[min:\]NODES\[xPROCS\]"):
        build_app("dist.spmd", ["--script", "t.py", "--j", "x2"])


def test_bad_resource_quantity_names_the_field() -> None:
    with pytest.raises(SpecError, match="cpu"):
        build_app("dist.ddp", ["--script", "t.py", "--cpu", "lots"])


def test_bad_explicit_name_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="name"):
        build_app("dist.ddp", ["--script", "t.py", "--name", "no spaces"])


# -- registration and help -------------------------------------------------------
def test_builtins_are_registered_with_help() -> None:
    names = get_registry().names("components")
    assert {"dist.ddp", "dist.spmd"} <= set(names)
    text = component_help("dist.ddp")
    for arg in ("--j", "--script", "--m", "--rdzv_port", "--max_restarts", "--env", "--gpu"):
        assert arg in text
    assert "[min:]NODESxPROCS" in text


def test_components_return_appdefs() -> None:
    for app in (ddp(script="t.py"), spmd(m="pkg")):
        assert isinstance(app, AppDef)
        assert isinstance(app.roles[0], Role)
        assert AppDef.parse(app.to_dict()) == app  # round-trips as an app file
