"""On the real cluster: the env a pod sees for tracking, and a failed replica's stopped sibling."""

from __future__ import annotations

import pytest
from kubernetes_test_env import BUSYBOX, CFG

from torchrun_core.runner import Runner
from torchrun_core.specs.app import AppDef, Role
from torchrun_core.specs.state import AppState

pytestmark = pytest.mark.kubernetes


def _sh(script: str, replicas: int = 1) -> AppDef:
    role = Role(name="sh", image=BUSYBOX, entrypoint="sh", args=["-c", script],
                num_replicas=replicas)  # fmt: skip
    return AppDef(name="sh", roles=[role])


def test_a_pod_gets_no_path_of_this_machine_and_the_user_is_told(runner: Runner) -> None:
    app = _sh("env | grep ^TORCHRUN_CORE_TRACKER || echo no tracker")
    handle = runner.run(app, "kubernetes", CFG)
    assert runner.wait(handle, timeout=90).state == AppState.SUCCEEDED
    assert list(runner.log_lines(handle)) == ["no tracker\n"]
    [note] = runner.dryrun(app, "kubernetes", CFG).notes
    assert note.startswith("the file tracker is off: pods do not see ")


def test_the_sibling_of_a_failed_replica_reads_stopped_never_none(runner: Runner) -> None:
    script = 'if [ "$TORCHRUN_CORE_REPLICA_ID" = 1 ]; then exit 3; fi; sleep 60'
    handle = runner.run(_sh(script, replicas=2), "kubernetes", CFG)
    status = runner.wait(handle, timeout=90)
    assert status.state == AppState.FAILED
    assert status.replica("sh", 1).exit_code == 3
    stopped = [r for rs in status.roles for r in rs.replicas if r.id == 0]
    for sibling in stopped:  # its Job may already be gone once deleted
        assert sibling.state == AppState.CANCELLED
        assert sibling.message == "stopped after sh/1 failed"
    summary = status.failure_summary()
    assert summary.startswith("sh/1 exited with 3") and "None" not in summary
    if stopped:
        assert summary == "sh/1 exited with 3; sh/0 was stopped after sh/1 failed"
