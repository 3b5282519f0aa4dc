"""Write-ahead against a real dockerd: nothing is made for a run that cannot be recorded,
and a ``kill -9`` of ``run -s docker`` mid-launch leaves nothing that ``list`` does not
show and ``delete`` does not remove.

Each app gets a name of its own, so that its containers and networks are told apart
from those of other tests in session ``default`` (the CLI's) on the same daemon.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from docker_apps import BUSYBOX
from store_lock import store_locked

from torchrun_core.runner import Runner
from torchrun_core.runstore.launch_mark import LaunchMark
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.docker

APP_NAME_LABEL = "torchrun_core.app_name"


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "torchrun_core", *args],
        capture_output=True, text=True, timeout=timeout, env=dict(os.environ),
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


def app_file(directory: Path, replicas: int) -> tuple[Path, str]:
    """An app file of ``replicas`` sleeping busybox replicas, under a name of its own."""
    name = f"wa-{uuid.uuid4().hex[:8]}"
    role = {"name": "s", "image": BUSYBOX, "entrypoint": "sleep", "args": ["300"],
            "num_replicas": replicas}  # fmt: skip
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"name": name, "roles": [role]}))
    return path, name


def made(api: Any, name: str) -> tuple[list[Any], list[Any]]:
    """The containers and networks on the daemon for the app named ``name``."""
    containers = api.containers(all=True, filters={"label": [f"{APP_NAME_LABEL}={name}"]})
    app_ids = {c["Labels"]["torchrun_core.app_id"] for c in containers}
    networks = [
        n for n in api.networks(filters={"label": ["torchrun_core.session=default"]})
        if n["Labels"].get("torchrun_core.app_id") in app_ids
    ]  # fmt: skip
    return containers, networks


@pytest.mark.slow  # waits out the store's 30 s busy timeout
def test_run_with_the_store_locked_makes_nothing_on_the_daemon(
    default_session: str, docker_api: Any, state_dir: Path, tmp_path: Path
) -> None:
    assert cli("list").returncode == 0  # the store exists
    path, name = app_file(tmp_path, 2)
    with store_locked(state_dir / "runs.sqlite"):
        proc = cli("run", "-s", "docker", str(path))
    assert made(docker_api, name) == ([], [])
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{name} was not launched" in errors[0], proc.stderr
    assert "database is locked" in errors[0]


def test_kill_9_during_run_leaves_nothing_list_does_not_show(
    default_session: str, docker_api: Any, state_dir: Path, tmp_path: Path
) -> None:
    path, name = app_file(tmp_path, 16)
    run = subprocess.Popen(
        [sys.executable, "-m", "torchrun_core", "run", "-s", "docker", str(path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not made(docker_api, name)[0]:  # mid-launch: its first container exists
            assert run.poll() is None, "the launch ended before a container was seen"
            assert time.monotonic() < deadline, "no container was made"
            time.sleep(0.005)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    app_id = made(docker_api, name)[0][0]["Labels"]["torchrun_core.app_id"]
    handle = f"docker://default/{app_id}"

    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["handle"]: r for r in json.loads(listed.stdout)}
    assert handle in rows, listed.stdout  # what the daemon has, list shows
    assert rows[handle]["launch"] is None  # settled against the daemon
    status = cli("status", handle)
    assert status.returncode in (0, 1), status.stderr  # FAILED if no container stayed

    deleted = cli("delete", handle)
    assert deleted.returncode == 0, deleted.stderr
    assert made(docker_api, name) == ([], [])
    assert handle not in cli("list").stdout


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_launch_killed_after_its_network_is_never_launched_and_delete_removes_it(
    runner: Runner, docker_api: Any, session: str
) -> None:
    info = runner.dryrun(AppDef(name="wa", roles=[Role(name="s", image=BUSYBOX,
                                                     entrypoint="true")]), "docker")  # fmt: skip
    assert info.app_id is not None
    # What a kill -9 leaves after launch() made the network and before any container:
    # the network on the daemon, and the run recorded with its launcher's mark.
    docker_api.create_network(
        info.request.network, labels={"torchrun_core.app_id": info.app_id,
                                      "torchrun_core.session": session},
    )  # fmt: skip
    mark = LaunchMark(socket.gethostname(), dead_pid(), None, True, time.time(), "gone")
    handle = f"docker://{session}/{info.app_id}"
    runner.store.add_run(
        handle, scheduler="docker", session=session, app_id=info.app_id, app_name="wa",
        app_json=None, state=AppState.UNSUBMITTED, launch_json=mark.to_json(),
    )  # fmt: skip
    [listed] = runner.list()
    assert listed.state is AppState.FAILED  # no container: it never ran
    assert runner.status(handle).state is AppState.FAILED
    assert runner.delete(handle).ok
    assert docker_api.networks(filters={"label": [f"torchrun_core.app_id={info.app_id}"]}) == []
    assert runner.list() == []
