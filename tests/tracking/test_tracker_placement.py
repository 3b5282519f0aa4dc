"""Where a job's ``file`` tracker writes: each scheduler places its root where the job runs."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from inmemory_scheduler import InMemoryScheduler, two_role_app

from torchrun_core.runner import Runner
from torchrun_core.runner.rerun import without_tracker_env
from torchrun_core.scheduler import TrackerRoot, mounts_path
from torchrun_core.specs.app import AppDef
from torchrun_core.specs.handle import parse_handle
from torchrun_core.specs.mounts import BindMount, VolumeMount
from torchrun_core.tracking.backend import TrackingWarning, load_backends
from torchrun_core.tracking.file_backend import FileBackend
from torchrun_core.tracking.file_layout import job_root
from torchrun_core.tracking.run_lookup import job_side_root, read_tracked

FILE_CONFIG = "TORCHRUN_CORE_TRACKER_FILE_CONFIG"
TRACKERS = "TORCHRUN_CORE_TRACKERS"
JOB_ROOT = "${TORCHRUN_CORE_JOB_DIR}/tracking"


def env_of(runner: Runner, app: AppDef | None = None) -> dict[str, str]:
    return runner.dryrun(app or two_role_app(), "inmemory").app.roles[0].env


def test_a_scheduler_that_says_nothing_passes_the_root_on(runner: Runner, state_dir: Path) -> None:
    # Plugins written before the hook: today's behaviour, no note.
    info = runner.dryrun(two_role_app(), "inmemory")
    assert info.app.roles[0].env[FILE_CONFIG] == str(state_dir / "tracking")
    assert info.notes == []


def test_the_default_root_moves_to_the_schedulers_job_root(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(InMemoryScheduler, "job_tracker_root", JOB_ROOT)
    env = env_of(runner)
    assert env[FILE_CONFIG] == JOB_ROOT and env[TRACKERS] == "file"


def test_a_root_the_user_chose_is_kept(
    engine: Any, observer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inmemory_scheduler import make_registry

    monkeypatch.setattr(InMemoryScheduler, "job_tracker_root", JOB_ROOT)
    registry = make_registry(engine, observer)
    with Runner("test", registry=registry, tracker_config={"file": "/shared/runs"}) as runner:
        assert env_of(runner)[FILE_CONFIG] == "/shared/runs"


def off(self: Any, root: str, app: AppDef, options: Any, default: bool) -> TrackerRoot:
    return TrackerRoot(None, notice=f"the file tracker is off: no {root} there")


def test_a_scheduler_can_turn_the_file_tracker_off_with_a_note(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, state_dir: Path
) -> None:
    monkeypatch.setattr(InMemoryScheduler, "tracker_root", off)
    info = runner.dryrun(two_role_app(), "inmemory")
    env = info.app.roles[0].env
    assert FILE_CONFIG not in env and TRACKERS not in env
    assert info.notes == [f"the file tracker is off: no {state_dir / 'tracking'} there"]


def mount(self: Any, root: str, app: AppDef, options: Any, default: bool) -> TrackerRoot:
    return TrackerRoot(root, mount=True)


def test_a_mounted_root_is_made_and_bound_once_and_a_rerun_drops_it(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, state_dir: Path
) -> None:
    monkeypatch.setattr(InMemoryScheduler, "tracker_root", mount)
    root = str(state_dir / "tracking")
    handle = runner.run(two_role_app(), "inmemory")
    app = runner.describe(handle).app
    assert app is not None and Path(root).is_dir()
    for role in app.roles:
        assert [m for m in role.mounts if m.dst_path == root] == [
            BindMount(src_path=root, dst_path=root)
        ]
        assert role.env[FILE_CONFIG] == root
    assert all(not role.mounts for role in without_tracker_env(app).roles)
    rerun = runner.dryrun_rerun(handle, env={"API_TOKEN": "t0ken"}).app
    assert all(len(role.mounts) == 1 for role in rerun.roles)


def test_mounts_path_needs_every_role_to_mount_a_parent() -> None:
    app = two_role_app()
    assert not mounts_path(app, "/data/runs")
    shared = VolumeMount(src="pvc", dst_path="/data")
    roles = [r.model_copy(update={"mounts": [shared]}) for r in app.roles]
    both = app.model_copy(update={"roles": roles})
    assert mounts_path(both, "/data/runs") and mounts_path(both, "/data")
    assert not mounts_path(both, "/database/runs")
    one = app.model_copy(update={"roles": [roles[0], app.roles[1]]})
    assert not mounts_path(one, "/data/runs")


# -- inside the job ----------------------------------------------------------------
def test_the_job_expands_its_own_variables_in_the_root(tmp_path: Path) -> None:
    env = {"TORCHRUN_CORE_JOB_DIR": str(tmp_path)}
    assert job_root(JOB_ROOT, env) == tmp_path / "tracking"
    assert job_root("/plain/$HOME/x", {}) == Path("/plain/$HOME/x")  # only ${NAME}


def test_a_root_naming_an_unset_variable_turns_the_tracker_off_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TORCHRUN_CORE_JOB_DIR", raising=False)
    with pytest.raises(ValueError, match=r"names \$\{TORCHRUN_CORE_JOB_DIR\}"):
        FileBackend(JOB_ROOT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backends = load_backends(["file"], {FILE_CONFIG: JOB_ROOT})
    assert backends == []
    [warning] = caught
    assert warning.category is TrackingWarning
    assert "TORCHRUN_CORE_JOB_DIR" in str(warning.message) and "\n" not in str(warning.message)


# -- reading back --------------------------------------------------------------------
def test_a_root_on_the_jobs_side_reads_as_nothing_here(
    runner: Runner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(InMemoryScheduler, "job_tracker_root", JOB_ROOT)
    # Even where the variable happens to be set (a launcher inside a job): not this run's dir.
    monkeypatch.setenv("TORCHRUN_CORE_JOB_DIR", str(tmp_path))
    handle = runner.run(two_role_app(), "inmemory")
    assert runner.metrics(handle) == [] and runner.progress(handle) == []
    assert job_side_root(runner.store, parse_handle(str(handle))) == JOB_ROOT
    assert read_tracked(runner.store, parse_handle(str(handle))).metrics == []
