"""Apps run to their end on a real dockerd: exit codes, args, env, rank 0 by name."""

from __future__ import annotations

import pytest
from docker_apps import BUSYBOX, PYTHON, shell_app

from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker


def test_echo_succeeds_with_its_output(runner: Runner) -> None:
    handle = runner.run_component(
        "utils.echo", ["--msg", "hello docker", "--image", BUSYBOX], scheduler="docker"
    )
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.SUCCEEDED
    replica = status.replica("echo", 0)
    assert (replica.exit_code, replica.attempt) == (0, 0)
    assert list(runner.log_lines(handle)) == ["hello docker\n"]


def test_sh_non_zero_exit_fails_with_the_replicas_code(runner: Runner) -> None:
    handle = runner.run_component("utils.sh", ["--image", BUSYBOX, "exit 3"], scheduler="docker")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.FAILED
    assert status.replica("sh", 0).exit_code == 3
    assert status.message == "sh/0 exited with 3"


def test_exit_codes_are_kept_per_replica(runner: Runner) -> None:
    script = '[ "$TORCHRUN_CORE_REPLICA_ID" = 0 ] && exit 0; sleep 0.3; exit 4'
    handle = runner.run(shell_app(script, replicas=2), "docker")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.FAILED
    replicas = status.roles[0].replicas
    assert [(r.state, r.exit_code) for r in replicas] == [
        (AppState.SUCCEEDED, 0),
        (AppState.FAILED, 4),
    ]


def test_args_and_env_arrive_intact(runner: Runner) -> None:
    tricky = ["two words", "it's", 'say "hi"', "$HOME", "${app_id}x", "a\\b", ""]
    role = Role(
        name="main",
        image=BUSYBOX,
        entrypoint="sh",
        args=["-c", 'for a in "$@"; do echo "<$a>"; done; echo "[$V]"', "sh", *tricky],
        env={"V": "x y $z 'q' \"d\""},
    )
    handle = runner.run(AppDef(name="quote", roles=[role]), "docker")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    app_id = handle.app_id
    expected = ["two words", "it's", 'say "hi"', "$HOME", f"{app_id}x", "a\\b", ""]
    lines = list(runner.log_lines(handle))
    assert lines == [f"<{a}>\n" for a in expected] + ["[x y $z 'q' \"d\"]\n"]


def test_replica_reaches_rank0_by_name_over_tcp(runner: Runner) -> None:
    # Rank 0 listens; rank 1 connects to $TORCHRUN_CORE_RANK0_HOST (retrying
    # while rank 0 starts) and sends a line that rank 0 prints.
    code = """
import os, socket, time
rank = int(os.environ["TORCHRUN_CORE_REPLICA_ID"])
host = os.environ["TORCHRUN_CORE_RANK0_HOST"]
if rank == 0:
    srv = socket.create_server(("", 29500))
    conn, _ = srv.accept()
    print("rank0 got", conn.makefile().readline().strip(), "on", socket.gethostname())
else:
    for _ in range(200):
        try:
            sock = socket.create_connection((host, 29500), timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    sock.sendall(f"hello from {socket.gethostname()} to {host}\\n".encode())
    sock.close()
    print("rank1 sent")
"""
    role = Role(
        name="trainer", image=PYTHON, entrypoint="python", args=["-c", code], num_replicas=2
    )
    handle = runner.run(AppDef(name="tcp", roles=[role]), "docker")
    status = runner.wait(handle, timeout=90)
    assert status.state is AppState.SUCCEEDED, status
    assert list(runner.log_lines(handle, "trainer", 0)) == [
        "rank0 got hello from trainer-1 to trainer-0 on trainer-0\n"
    ]
    assert list(runner.log_lines(handle, "trainer", 1)) == ["rank1 sent\n"]


def test_resources_mounts_and_ports_reach_the_container(
    runner: Runner, tmp_path: pytest.TempPathFactory, docker_api: object
) -> None:
    from pathlib import Path

    data = Path(str(tmp_path)) / "data dir"
    data.mkdir()
    (data / "in.txt").write_text("from the host\n")
    role = Role(
        name="main",
        image=BUSYBOX,
        entrypoint="sh",
        args=["-c", "cat /data/in.txt; cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
              "2>/dev/null || cat /sys/fs/cgroup/memory.max; df -m /dev/shm | tail -1"],
        resource={"cpu": 0.5, "memory_mb": 64},
        mounts=[{"type": "bind", "src_path": str(data), "dst_path": "/data", "read_only": True}],
        port_map={"http": 8080},
    )  # fmt: skip
    handle = runner.run(AppDef(name="res", roles=[role]), "docker", cfg={"shm_size": "32m"})
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    lines = list(runner.log_lines(handle))
    assert lines[0] == "from the host\n"
    assert lines[1] == f"{64 << 20}\n"
    assert lines[2].split()[1] == "32"  # /dev/shm size in MiB
    (container,) = docker_api.containers(  # type: ignore[attr-defined]
        all=True, filters={"label": [f"torchrun_core.app_id={handle.app_id}"]}
    )
    host_config = docker_api.inspect_container(container["Id"])["HostConfig"]  # type: ignore[attr-defined]
    assert host_config["NanoCpus"] == 500_000_000
    assert "8080/tcp" in host_config["PortBindings"]


def test_shell_app_helper_runs_in_busybox(runner: Runner) -> None:
    handle = runner.run(shell_app("echo $TORCHRUN_CORE_ROLE $TORCHRUN_CORE_NUM_REPLICAS"), "docker")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    assert list(runner.log_lines(handle, "main")) == ["main 1\n"]
