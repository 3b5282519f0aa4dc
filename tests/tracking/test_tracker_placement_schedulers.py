"""The builtin schedulers' places for the ``file`` tracker, seen in their dry runs (no engine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from torchrun_core.components.utils import sh
from torchrun_core.runner import Runner, get_runner
from torchrun_core.schedulers.shared.docker_daemon import on_this_machine
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.mounts import BindMount, VolumeMount

FILE_CONFIG = "TORCHRUN_CORE_TRACKER_FILE_CONFIG"


@pytest.fixture
def runner() -> Iterator[Runner]:
    with get_runner() as made:
        yield made


def app(*mounts: BindMount | VolumeMount) -> AppDef:
    made = sh("env", image="busybox")
    roles = [r.model_copy(update={"mounts": list(mounts)}) for r in made.roles]
    return made.model_copy(update={"roles": roles})


@pytest.mark.parametrize(
    ("address", "here"),
    [("unix:///var/run/docker.sock", True), ("tcp://127.0.0.1:2375", True),
     ("tcp://localhost:2375", True), ("tcp://[::1]:2375", True),
     ("tcp://10.1.2.3:2375", False), ("ssh://me@build-host", False)],
)  # fmt: skip
def test_which_docker_daemons_run_on_this_machine(address: str, here: bool) -> None:
    assert on_this_machine(address) is here


def test_docker_on_this_machine_mounts_the_root(runner: Runner, state_dir: Path) -> None:
    root = str(state_dir / "tracking")
    info = runner.dryrun(app(), "docker", {"host": "unix:///nonexistent.sock"})
    role = info.app.roles[0]
    assert role.env[FILE_CONFIG] == root and Path(root).is_dir()
    assert role.mounts == [BindMount(src_path=root, dst_path=root)]
    assert f"bind {root} -> {root} (rw)" in str(info) and info.notes == []


def test_docker_elsewhere_turns_the_file_tracker_off_with_a_note(
    runner: Runner, state_dir: Path
) -> None:
    info = runner.dryrun(app(), "docker", {"host": "tcp://10.1.2.3:2375"})
    role = info.app.roles[0]
    assert FILE_CONFIG not in role.env and not role.mounts
    [note] = info.notes
    assert note.startswith("the file tracker is off: containers on tcp://10.1.2.3:2375")
    assert str(state_dir / "tracking") in note


def test_kubernetes_turns_the_file_tracker_off_with_a_note(runner: Runner) -> None:
    info = runner.dryrun(app(), "kubernetes")
    assert FILE_CONFIG not in info.app.roles[0].env
    assert "TORCHRUN_CORE_TRACKERS" not in str(info)
    [note] = info.notes
    assert note.startswith("the file tracker is off: pods do not see")


def test_kubernetes_keeps_a_root_on_a_volume_every_role_mounts() -> None:
    with get_runner(tracker_config={"file": "/runs/tracking"}) as runner:
        info = runner.dryrun(app(VolumeMount(src="runs", dst_path="/runs")), "kubernetes")
    assert info.app.roles[0].env[FILE_CONFIG] == "/runs/tracking" and info.notes == []


def test_slurm_writes_in_the_job_dir_unless_told_otherwise(runner: Runner) -> None:
    info = runner.dryrun(app(), "slurm", {"host": "127.0.0.1"})
    assert info.app.roles[0].env[FILE_CONFIG] == "${TORCHRUN_CORE_JOB_DIR}/tracking"
    assert info.notes == []
    with get_runner(tracker_config={"file": "/shared/runs"}) as chosen:
        info = chosen.dryrun(app(), "slurm", {"host": "127.0.0.1"})
    assert info.app.roles[0].env[FILE_CONFIG] == "/shared/runs"


def test_local_replicas_share_this_machine_and_keep_the_root(
    runner: Runner, state_dir: Path
) -> None:
    info = runner.dryrun(sh("env"), "local")
    assert info.app.roles[0].env[FILE_CONFIG] == str(state_dir / "tracking")
    assert not info.app.roles[0].mounts and info.notes == []


def test_the_cli_prints_the_note_on_one_line() -> None:
    from cli.cli_process import run_cli

    proc = run_cli("dryrun", "-s", "kubernetes", "utils.sh", "--image", "busybox", "env")
    assert proc.returncode == 0, proc.stderr
    [note] = [line for line in proc.stderr.splitlines() if line.startswith("note:")]
    assert note.startswith("note: the file tracker is off: pods do not see")


def test_metrics_says_where_a_job_side_root_is(runner: Runner) -> None:
    from cli.cli_process import run_cli

    from torchrun_core.runstore.record import stored_app_json

    # Recorded as a Slurm submission records it: no cluster needed to read it back.
    info = runner.dryrun(app(), "slurm", {"host": "127.0.0.1"})
    handle = "slurm://default/42"
    runner.store.add_run(handle, scheduler="slurm", session="default", app_id="42",
                         app_name="sh", app_json=stored_app_json(info.app))  # fmt: skip
    proc = run_cli("metrics", handle)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (
        f"no metrics recorded for {handle} here: its file tracker wrote where it ran, "
        "in ${TORCHRUN_CORE_JOB_DIR}/tracking\n"
    )
