"""Running apps on the local scheduler: exit codes, argv, env, state from other processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from local_apps import app_of, py_role, wait_for, wait_until

from torchrun_core.errors import AppNotFoundError, BackendError
from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.specs.app import Role
from torchrun_core.specs.state import AppState
from torchrun_core.specs.status import AppStatus

Run = Callable[..., tuple[str, AppStatus]]


def lines(sched: LocalScheduler, app_id: str, role: str = "r", k: int = 0) -> list[str]:
    return list(sched.log_iter(app_id, role, k))


def test_echo_succeeds(sched: LocalScheduler, run: Run) -> None:
    app_id, status = run(app_of(Role(name="echo", entrypoint="echo", args=["hello world"])))
    assert status.state is AppState.SUCCEEDED
    (replica,) = status.roles[0].replicas
    assert (replica.state, replica.exit_code, replica.attempt) == (AppState.SUCCEEDED, 0, 0)
    assert replica.started_at and replica.finished_at and replica.finished_at >= replica.started_at
    assert status.handle == f"local://test/{app_id}"
    assert status.created_at and status.finished_at
    assert lines(sched, app_id, "echo") == ["hello world\n"]


def test_non_zero_exit_fails_with_its_code(sched: LocalScheduler, run: Run) -> None:
    app_id, status = run(app_of(py_role("import sys; print('bye'); sys.exit(3)")))
    assert status.state is AppState.FAILED
    replica = status.roles[0].replicas[0]
    assert (replica.state, replica.exit_code) == (AppState.FAILED, 3)
    assert "r/0 exited with code 3" in status.message
    assert lines(sched, app_id) == ["bye\n"]


def test_death_by_signal_is_reported_like_a_shell(run: Run) -> None:
    _, status = run(app_of(py_role("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")))
    replica = status.roles[0].replicas[0]
    assert replica.exit_code == 128 + 9
    assert "SIGKILL" in replica.message


def test_missing_entrypoint_fails_127_with_a_message(sched: LocalScheduler, run: Run) -> None:
    app_id, status = run(app_of(Role(name="r", entrypoint="no-such-program-xyz")))
    replica = status.roles[0].replicas[0]
    assert status.state is AppState.FAILED
    assert replica.exit_code == 127 and "not found" in replica.message
    assert any("no-such-program-xyz" in line for line in lines(sched, app_id))


def test_args_reach_the_process_intact(run: Run, sched: LocalScheduler) -> None:
    weird = ["a b", "it's", 'say "hi"', "$HOME", "${NOT_A_MACRO}", "*", "", "\\n", "ünï"]
    code = "import json, sys; print(json.dumps(sys.argv[1:]))"
    app_id, status = run(app_of(py_role(code, args=weird)))
    assert status.state is AppState.SUCCEEDED
    assert json.loads(lines(sched, app_id)[0]) == weird


def test_env_rank_info_and_macros(
    run: Run, sched: LocalScheduler, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = textwrap.dedent(
        """
        import json, os, sys
        keys = ["MY_VAR", "FROM_LAUNCHER", "TORCHRUN_CORE_ROLE", "TORCHRUN_CORE_REPLICA_ID",
                "TORCHRUN_CORE_NUM_REPLICAS", "TORCHRUN_CORE_APP_ID", "TORCHRUN_CORE_RANK0_HOST",
                "TORCHRUN_CORE_ATTEMPT", "RANK0_NAME", "ROOT"]
        print(json.dumps({"env": {k: os.environ.get(k) for k in keys}, "argv": sys.argv[1:],
                          "cwd": os.getcwd()}))
        """
    )
    monkeypatch.setenv("FROM_LAUNCHER", "inherited")
    role = py_role(
        code,
        name="worker",
        image=str(workdir),
        num_replicas=2,
        args=["${replica_id}", "${app_id}"],
        env={"MY_VAR": "v-${replica_id}", "RANK0_NAME": "${rank0_env}", "ROOT": "${img_root}"},
    )
    app_id, status = run(app_of(role))
    assert status.state is AppState.SUCCEEDED
    for k in range(2):
        seen = json.loads(lines(sched, app_id, "worker", k)[0])
        assert seen["argv"] == [str(k), app_id]
        assert seen["cwd"] == str(workdir)
        assert seen["env"] == {
            "MY_VAR": f"v-{k}",
            "FROM_LAUNCHER": "inherited",
            "TORCHRUN_CORE_ROLE": "worker",
            "TORCHRUN_CORE_REPLICA_ID": str(k),
            "TORCHRUN_CORE_NUM_REPLICAS": "2",
            "TORCHRUN_CORE_APP_ID": app_id,
            "TORCHRUN_CORE_RANK0_HOST": "localhost",
            "TORCHRUN_CORE_ATTEMPT": "0",
            "RANK0_NAME": "TORCHRUN_CORE_RANK0_HOST",
            "ROOT": str(workdir),
        }


def test_multi_role_multi_replica(run: Run, sched: LocalScheduler) -> None:
    app = app_of(
        Role(
            name="a",
            entrypoint="sh",
            args=["-c", "echo a$TORCHRUN_CORE_REPLICA_ID"],
            num_replicas=3,
        ),
        Role(
            name="b",
            entrypoint="sh",
            args=["-c", "echo b$TORCHRUN_CORE_REPLICA_ID"],
            num_replicas=2,
        ),
    )
    app_id, status = run(app)
    assert status.state is AppState.SUCCEEDED
    assert [(r.role, [x.id for x in r.replicas]) for r in status.roles] == [
        ("a", [0, 1, 2]),
        ("b", [0, 1]),
    ]
    assert [lines(sched, app_id, "a", k) for k in range(3)] == [["a0\n"], ["a1\n"], ["a2\n"]]
    assert [lines(sched, app_id, "b", k) for k in range(2)] == [["b0\n"], ["b1\n"]]


def test_one_failure_stops_the_others(sched: LocalScheduler) -> None:
    app = app_of(
        Role(name="slow", entrypoint="sleep", args=["60"]),
        py_role("import sys; sys.exit(2)", name="bad"),
    )
    app_id = sched.schedule(sched.dryrun(app))
    status = wait_for(sched, app_id)
    assert status.state is AppState.FAILED
    slow = status.replica("slow", 0)
    assert slow.state is AppState.CANCELLED and slow.exit_code == 128 + 15
    assert status.replica("bad", 0).exit_code == 2


def test_running_state_and_list(sched: LocalScheduler) -> None:
    app_id = sched.schedule(sched.dryrun(app_of(Role(name="r", entrypoint="sleep", args=["30"]))))
    wait_until(lambda: sched.describe(app_id).state is AppState.RUNNING, what="RUNNING")  # type: ignore[union-attr]
    done_id = sched.schedule(sched.dryrun(app_of(Role(name="e", entrypoint="true"), name="other")))
    wait_for(sched, done_id)
    listed = {a.app_id: a for a in sched.list()}
    assert listed[app_id].state is AppState.RUNNING and listed[app_id].name == "t"
    assert listed[done_id].state is AppState.SUCCEEDED and listed[done_id].name == "other"
    assert LocalScheduler("another-session").list() == []
    sched.cancel(app_id)
    assert sched.describe(app_id).state is AppState.CANCELLED  # type: ignore[union-attr]


def test_unknown_app_raises_at_once(sched: LocalScheduler) -> None:
    assert sched.describe("t-00000000") is None
    with pytest.raises(AppNotFoundError):
        sched.cancel("t-00000000")
    with pytest.raises(AppNotFoundError):
        sched.log_iter("t-00000000", "r", should_tail=True)  # raises before any next()


def test_watch_wakes_when_the_app_ends(sched: LocalScheduler, tmp_path: Path) -> None:
    stamp = tmp_path / "stamp"
    code = f"import time; time.sleep(0.3); open({str(stamp)!r}, 'w').write(repr(time.time()))"
    app_id = sched.schedule(sched.dryrun(app_of(py_role(code))))
    with sched.watch(app_id) as watcher:
        while not sched.describe(app_id).is_terminal:  # type: ignore[union-attr]
            watcher.wait(30)  # no busy loop: each wait blocks until a state change
    assert stamp.exists()
    # Watching a finished app (nobody listens any more) still works, by polling.
    with sched.watch(app_id) as watcher:
        watcher.wait(0.01)


SEPARATE_PROCESS = """
import json, sys
from torchrun_core.schedulers.local import LocalScheduler
sched = LocalScheduler("test")
status = sched.describe(sys.argv[1])
print(json.dumps({"state": status.state.value, "lines": list(sched.log_iter(sys.argv[1], "r"))}))
"""


def test_state_and_logs_visible_from_another_process(run: Run) -> None:
    app_id, _ = run(app_of(Role(name="r", entrypoint="echo", args=["from afar"])))
    out = subprocess.run(
        [sys.executable, "-c", SEPARATE_PROCESS, app_id], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == {"state": "SUCCEEDED", "lines": ["from afar\n"]}


LAUNCHER = """
import sys
from torchrun_core.schedulers.local import LocalScheduler
from torchrun_core.specs.app import AppDef, Role
sched = LocalScheduler("test")
role = Role(name="r", entrypoint=sys.executable, args=["-S", "-c", sys.argv[1]])
print(sched.schedule(sched.dryrun(AppDef(name="t", roles=[role]))))
"""


def test_app_survives_its_launcher_and_does_not_hold_its_stdout(
    sched: LocalScheduler, tmp_path: Path
) -> None:
    flag = tmp_path / "go"
    code = (
        "import os, time\n"
        f"while not os.path.exists({str(flag)!r}): time.sleep(0.01)\n"
        "print('still here')\n"
    )
    start = time.monotonic()
    # capture_output reads the launcher's stdout to EOF: it would hang for as
    # long as the app runs if the supervisor kept the launcher's stdout.
    launcher = subprocess.run(
        [sys.executable, "-c", LAUNCHER, code], capture_output=True, text=True, timeout=60
    )
    assert launcher.returncode == 0, launcher.stderr
    app_id = launcher.stdout.strip().splitlines()[-1]
    assert time.monotonic() - start < 30
    assert sched.describe(app_id).state in (AppState.SUBMITTED, AppState.RUNNING)  # type: ignore[union-attr]
    flag.touch()
    status = wait_for(sched, app_id)
    assert status.state is AppState.SUCCEEDED
    assert list(sched.log_iter(app_id, "r")) == ["still here\n"]


def test_state_file_is_versioned_json(run: Run, sched: LocalScheduler) -> None:
    app_id, _ = run(app_of(Role(name="r", entrypoint="true")))
    state = json.loads((sched.session_dir / app_id / "state.json").read_text())
    assert state["version"] >= 2 and state["state"] == "SUCCEEDED"
    assert state["supervisor"]["pid"] > 0


def test_supervisor_ignores_launcher_fds(sched: LocalScheduler, tmp_path: Path) -> None:
    """The supervisor closes the launcher's descriptors: EOF comes while the app runs."""
    read_end, write_end = os.pipe()
    try:
        app_id = sched.schedule(
            sched.dryrun(app_of(Role(name="r", entrypoint="sleep", args=["30"])))
        )
        wait_until(lambda: sched.describe(app_id).state is AppState.RUNNING, what="RUNNING")  # type: ignore[union-attr]
        os.close(write_end)
        write_end = -1
        assert os.read(read_end, 1) == b""  # would block if a supervisor held the write end
        sched.cancel(app_id)
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


def test_many_replicas(run: Run, sched: LocalScheduler) -> None:
    app_id, status = run(
        app_of(Role(name="r", entrypoint="echo", args=["${replica_id}"], num_replicas=50))
    )
    assert status.state is AppState.SUCCEEDED
    assert [lines(sched, app_id, "r", k) for k in range(50)] == [[f"{k}\n"] for k in range(50)]


def test_relative_entrypoint_args_resolve_in_the_image_dir(
    run: Run, sched: LocalScheduler, tmp_path: Path
) -> None:
    """The replica runs in its image dir even when the launcher's cwd is elsewhere."""
    image = tmp_path / "img"
    image.mkdir()
    (image / "script.sh").write_text("echo from script\n")
    app_id, status = run(
        app_of(Role(name="r", image=str(image), entrypoint="sh", args=["script.sh"]))
    )
    assert status.state is AppState.SUCCEEDED
    assert lines(sched, app_id) == ["from script\n"]


def test_replicas_read_no_stdin(run: Run, sched: LocalScheduler) -> None:
    app_id, _ = run(app_of(py_role("import sys; print(repr(sys.stdin.read()))")))
    assert lines(sched, app_id) == ["''\n"]


def test_unreadable_state_and_logs_are_backend_errors(run: Run, sched: LocalScheduler) -> None:
    app_id, _ = run(app_of(Role(name="r", entrypoint="echo", args=["x"])))
    other_id, _ = run(app_of(Role(name="r", entrypoint="true"), name="ok"))
    log = sched.session_dir / app_id / "logs" / "r" / "0" / "0.combined"
    log.unlink()
    log.mkdir()  # reading it now fails with IsADirectoryError
    with pytest.raises(BackendError, match="cannot read"):
        list(sched.log_iter(app_id, "r", 0))
    (sched.session_dir / app_id / "state.json").write_text("{not json")
    with pytest.raises(BackendError, match=app_id):
        sched.describe(app_id)
    listed = {a.app_id: a.state for a in sched.list()}
    assert listed == {app_id: AppState.UNKNOWN, other_id: AppState.SUCCEEDED}


def test_image_dir_removed_after_dryrun(sched: LocalScheduler, tmp_path: Path) -> None:
    image = tmp_path / "gone"
    image.mkdir()
    info = sched.dryrun(app_of(Role(name="r", image=str(image), entrypoint="true")))
    image.rmdir()
    status = wait_for(sched, sched.schedule(info))
    replica = status.replica("r", 0)
    assert status.state is AppState.FAILED
    assert replica.exit_code == 127 and "working directory" in replica.message


def test_replicas_start_with_default_signal_handling(
    run: Run, sched: LocalScheduler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No signal ignored or blocked in the launcher or supervisor leaks into a replica."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    try:
        app_id, _ = run(app_of(Role(name="r", entrypoint="cat", args=["/proc/self/status"])))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    fields = dict(line.split(":", 1) for line in sched.log_iter(app_id, "r", 0) if ":" in line)
    assert int(fields["SigIgn"], 16) == 0
    assert int(fields["SigBlk"], 16) == 0
