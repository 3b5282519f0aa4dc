"""Apps on the real test cluster, submitted and observed over SSH."""

from __future__ import annotations

import json

import pytest

from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.slurm

SH = "/bin/sh"


def _app(name: str, *roles: Role) -> AppDef:
    return AppDef(name=name, roles=list(roles))


def _sh(name: str, script: str, replicas: int = 1) -> Role:
    return Role(name=name, image="", entrypoint=SH, args=["-c", script], num_replicas=replicas)


def test_echo(runner: Runner) -> None:
    handle = runner.run(_app("echo", _sh("main", "echo hello slurm")), "slurm")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.SUCCEEDED
    assert list(runner.log_lines(handle)) == ["hello slurm\n"]


def test_two_replicas_run_on_two_nodes(runner: Runner) -> None:
    role = _sh("trainer", 'echo "$SLURM_PROCID $SLURMD_NODENAME"', replicas=2)
    handle = runner.run(_app("ddp", role), "slurm")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    seen = [next(iter(runner.log_lines(handle, "trainer", k))).split() for k in (0, 1)]
    assert [rank for rank, _ in seen] == ["0", "1"]
    assert seen[0][1] != seen[1][1]  # two different nodes
    # status names each replica's own node, as the replica itself saw it
    assert [r.hostname for r in runner.status(handle).roles[0].replicas] == [
        node for _, node in seen
    ]


def test_two_roles_are_one_hetjob(runner: Runner) -> None:
    app = _app("het", _sh("a", "echo role a"), _sh("b", "echo role b"))
    handle = runner.run(app, "slurm")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.SUCCEEDED
    assert [r.role for r in status.roles] == ["a", "b"]
    assert list(runner.log_lines(handle, "b")) == ["role b\n"]


def test_failing_exit_code_in_status(runner: Runner) -> None:
    handle = runner.run(_app("fail", _sh("main", "echo oops >&2; exit 7")), "slurm")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.FAILED
    assert status.replica("main", 0).exit_code == 7
    assert "oops\n" in list(runner.log_lines(handle))


def test_cancel_is_idempotent(runner: Runner) -> None:
    handle = runner.run(_app("sleeper", _sh("main", "sleep 120")), "slurm")
    runner.wait(handle, timeout=60, state=AppState.RUNNING)
    runner.cancel(handle)
    assert runner.wait(handle, timeout=60).state is AppState.CANCELLED
    runner.cancel(handle)


def test_log_follow_while_running(runner: Runner) -> None:
    role = _sh("main", "for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done")
    handle = runner.run(_app("follow", role), "slurm")
    runner.wait(handle, timeout=60, state=AppState.RUNNING)
    lines = list(runner.log_lines(handle, should_tail=True))
    assert lines == [f"line {i}\n" for i in range(1, 6)]


def test_injection_corpus_over_ssh(
    runner: Runner, tmp_path_factory: pytest.TempPathFactory
) -> None:
    marker = "/tmp/torchrun-core-slurm-pwned"
    corpus = [
        "with space",
        "it's",
        'say "hi"',
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"; touch {marker}",
        f"a\nb; touch {marker}",
        "$HOME ${HOME}",
        "*",
        "",
    ]
    role = Role(
        name="main",
        image="",
        entrypoint="python3",
        args=["-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *corpus],
        env={f"V{i}": v for i, v in enumerate(corpus)},
    )
    handle = runner.run(_app("quoting", role), "slurm")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    assert json.loads("".join(runner.log_lines(handle))) == corpus
    check = _sh("check", f"test -e {marker} && echo PWNED || echo clean")
    handle2 = runner.run(_app("check", check), "slurm")
    runner.wait(handle2, timeout=60)
    assert list(runner.log_lines(handle2)) == ["clean\n"]


def test_workspace_is_synced(runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> None:
    ws = tmp_path_factory.mktemp("ws")
    (ws / "pkg").mkdir()
    (ws / "pkg" / "data.txt").write_text("from the workspace\n")
    (ws / "secret.env").write_text("nope\n")
    (ws / ".torchrunignore").write_text("*.env\n")
    role = _sh("main", "cat pkg/data.txt; ls secret.env 2>/dev/null || echo ignored")
    handle = runner.run(_app("ws", role), "slurm", workspace=str(ws))
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    assert list(runner.log_lines(handle)) == ["from the workspace\n", "ignored\n"]


def test_each_role_has_its_own_exit_code(runner: Runner) -> None:
    app = _app("codes", _sh("ok", "true"), _sh("bad", "exit 3"))
    handle = runner.run(app, "slurm")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.FAILED
    assert status.replica("ok", 0).state is AppState.SUCCEEDED
    assert status.replica("ok", 0).exit_code == 0
    assert status.replica("bad", 0).state is AppState.FAILED
    assert status.replica("bad", 0).exit_code == 3


def test_each_replica_has_its_own_exit_code(runner: Runner) -> None:
    # srun alone reports the largest code of its tasks: rank 0 must still read 0.
    # Rank 1 fails only once rank 0 is done: a failure stops the replicas still
    # running (srun --kill-on-bad-exit), and rank 0 would read stopped instead.
    role = _sh("main", '[ "$SLURM_PROCID" = 1 ] && { sleep 2; exit 3; }; exit 0', replicas=2)
    handle = runner.run(_app("ranks", role), "slurm")
    status = runner.wait(handle, timeout=60)
    assert status.state is AppState.FAILED
    assert [(r.state, r.exit_code) for r in status.roles[0].replicas] == [
        (AppState.SUCCEEDED, 0),
        (AppState.FAILED, 3),
    ]


def test_cancel_with_a_short_grace_period_kills_a_term_deaf_app(runner: Runner) -> None:
    handle = runner.run(_app("deaf", _sh("main", "trap '' TERM; echo up; sleep 300")), "slurm")
    runner.wait(handle, timeout=60, state=AppState.RUNNING)
    runner.cancel(handle, grace_period=0)
    assert runner.wait(handle, timeout=60).state is AppState.CANCELLED


def test_delete_removes_the_job_dir_and_the_record(runner: Runner) -> None:
    from torchrun_core.schedulers.slurm.scheduler import SlurmScheduler

    handle = runner.run(_app("gone", _sh("main", "echo bye")), "slurm")
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    sched = runner.scheduler("slurm")
    assert isinstance(sched, SlurmScheduler)
    app_id = handle.app_id
    job_dir = sched.locate(app_id)[2]
    assert job_dir
    assert sched.transport().stat(f"{job_dir}/job.sbatch") is not None
    runner.delete(handle)
    assert sched.transport().stat(job_dir) is None
    assert runner.store.get(str(handle)) is None
