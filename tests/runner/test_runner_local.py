"""The Runner end to end on the real local scheduler: processes, any-process control."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState

S = AppState
HANDLE_ENV = "TORCHRUN_CORE_APP_HANDLE"


@pytest.fixture
def local_runner() -> Iterator[Runner]:
    with Runner("t") as made:
        yield made


def test_local_run_wait_log_and_tracker_env(local_runner: Runner) -> None:
    app = AppDef(
        name="env",
        roles=[Role(name="r", entrypoint="sh", args=["-c", f"echo ${HANDLE_ENV}; echo done"])],
    )
    handle = local_runner.run(app, "local", parent_run_id="local://t/parent-1")
    status = local_runner.wait(handle, timeout=60)
    assert status.state is S.SUCCEEDED
    assert list(local_runner.log_lines(handle)) == [f"{handle}\n", "done\n"]
    record = local_runner.describe(handle)
    assert record.parent_run_id == "local://t/parent-1"
    assert [e.state for e in local_runner.events(handle)][-1] is S.SUCCEEDED
    assert record.handle in {r.handle for r in local_runner.list(scheduler="local")}


def test_local_cancel_from_another_runner(local_runner: Runner) -> None:
    app = AppDef(name="sleepy", roles=[Role(name="r", entrypoint="sleep", args=["60"])])
    handle = local_runner.run(app, "local")
    local_runner.wait(handle, timeout=60, state=S.RUNNING)
    with Runner("other") as other:  # any process or runner can control it
        other.cancel(handle)
        other.cancel(handle)
        assert other.wait(handle, timeout=60).state is S.CANCELLED
    assert local_runner.status(handle).state is S.CANCELLED
    assert [e.state for e in local_runner.events(handle)][-1] is S.CANCELLED


def test_local_app_is_tracked_from_another_process(local_runner: Runner) -> None:
    handle = local_runner.run_component("utils.echo", ["--msg", "from afar"], "local")
    code = textwrap.dedent(
        f"""
        from torchrun_core.runner import Runner
        with Runner("elsewhere") as runner:
            status = runner.wait("{handle}", timeout=60)
            print(status.state.value)
            print("".join(runner.log_lines("{handle}")), end="")
            print(runner.describe("{handle}").app_name)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=100, check=True
    )
    assert out.stdout.splitlines() == ["SUCCEEDED", "from afar", "echo"]
    assert [e.state for e in local_runner.events(handle)][-1] is S.SUCCEEDED


def test_local_child_runs_link_to_their_parent(local_runner: Runner) -> None:
    # A job that launches a job: the child's parent is the launching job's handle.
    launcher = textwrap.dedent(
        """
        from torchrun_core.runner import Runner
        with Runner("t") as runner:
            print(runner.run_component("utils.echo", ["--msg", "child"], "local"))
        """
    )
    app = AppDef(
        name="parent", roles=[Role(name="p", entrypoint=sys.executable, args=["-c", launcher])]
    )
    parent = local_runner.run(app, "local")
    assert local_runner.wait(parent, timeout=60).state is S.SUCCEEDED
    child = "".join(local_runner.log_lines(parent)).strip().splitlines()[-1]
    assert local_runner.describe(child).parent_run_id == str(parent)
    assert local_runner.wait(child, timeout=60).state is S.SUCCEEDED
