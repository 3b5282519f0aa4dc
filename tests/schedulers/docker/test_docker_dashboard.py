"""The dashboard over the real docker scheduler: a container's log followed to its end,
its replicas and states, and cancel through an action.

The dashboard knows no scheduler; these check that docker's threads, log
follow and cancel work through it as through the CLI.
"""

from __future__ import annotations

import pytest
from ui.ui_apps import client, get_json, sse_events

from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState
from torchrun_core.ui.settings import UiSettings

pytestmark = pytest.mark.docker

BUSYBOX = "torchrun-core/busybox:latest"


def shell_app(script: str, replicas: int = 1) -> AppDef:
    role = Role(
        name="sh", image=BUSYBOX, entrypoint="sh", args=["-c", script], num_replicas=replicas
    )
    return AppDef(name="dash", roles=[role])


def test_a_containers_log_is_followed_to_its_end(runner: Runner) -> None:
    handle = str(
        runner.run(shell_app('echo "first $0"; sleep 2; echo "<b>later</b>"', 2), "docker")
    )
    c = client(runner)
    params = {"handle": handle, "role": "sh", "replica": "1"}
    with c.stream("GET", "/api/run/logs/stream", params=params) as response:
        events = sse_events(response.iter_lines())
    lines = [line for name, batch in events if name == "lines" for line in batch]
    assert lines == ["first sh", "<b>later</b>"]
    assert events[-1] == ("end", {})
    assert runner.wait(handle, timeout=60).state is AppState.SUCCEEDED
    run = get_json(c, "/api/run", handle=handle)
    assert run["scheduler"] == "docker"
    assert run["replicas"] == [{"role": "sh", "replica": 0}, {"role": "sh", "replica": 1}]
    replicas = run["status"]["roles"][0]["replicas"]
    assert [(r["id"], r["state"], r["exit_code"]) for r in replicas] == [
        (0, "SUCCEEDED", 0),
        (1, "SUCCEEDED", 0),
    ]
    listed = get_json(c, "/api/runs", scheduler="docker")["runs"]
    assert [r["handle"] for r in listed] == [handle]


def test_cancel_through_the_dashboard_stops_the_container(runner: Runner) -> None:
    handle = str(runner.run(shell_app("echo up; sleep 300"), "docker"))
    runner.wait(handle, timeout=60, state=AppState.RUNNING)
    c = client(runner, UiSettings.create(allow_actions=True))
    csrf = get_json(c, "/api/meta")["csrf_token"]
    done = c.post("/api/run/cancel", json={"handle": handle}, headers={"x-csrf-token": csrf})
    assert done.status_code == 200, done.text
    assert runner.wait(handle, timeout=60).state is AppState.CANCELLED
    assert get_json(c, "/api/run", handle=handle)["state"] == "CANCELLED"
