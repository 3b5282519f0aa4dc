"""How a failed app's replicas are named: the cause with its exit code, its siblings as stopped."""

from __future__ import annotations

import pytest

from torchrun_core.errors import AppFailedError, UnexpectedStateError
from torchrun_core.runner.control import not_reached
from torchrun_core.specs.handle import parse_handle
from torchrun_core.specs.state import AppState as S
from torchrun_core.specs.status import AppStatus, ReplicaStatus, RoleStatus, mark_stopped_siblings

HANDLE = "x://s/app-1"


def failed_app(*replicas: tuple[S, int | None]) -> AppStatus:
    """A FAILED app whose role ``sh`` has these (state, exit code) replicas, in id order."""
    rows = [
        ReplicaStatus(id=k, role="sh", state=state, exit_code=code)
        for k, (state, code) in enumerate(replicas)
    ]
    return AppStatus(state=S.FAILED, handle=HANDLE, roles=[RoleStatus(role="sh", replicas=rows)])


# Each way a scheduler reports a sibling it stopped after sh/1 failed: CANCELLED
# (local, kubernetes), or FAILED by SIGTERM/SIGKILL (docker, slurm) or with no code.
SIBLING_REPORTS = [(S.CANCELLED, 143), (S.CANCELLED, None), (S.FAILED, 143), (S.FAILED, 137),
                   (S.FAILED, None)]  # fmt: skip


@pytest.mark.parametrize("sibling", SIBLING_REPORTS)
def test_a_stopped_sibling_is_said_to_be_stopped(sibling: tuple[S, int | None]) -> None:
    status = failed_app(sibling, (S.FAILED, 3))
    assert status.failure_summary() == "sh/1 exited with 3; sh/0 was stopped after sh/1 failed"


@pytest.mark.parametrize("sibling", SIBLING_REPORTS)
def test_every_failure_message_names_the_cause_and_never_none(
    sibling: tuple[S, int | None],
) -> None:
    status = failed_app(sibling, (S.FAILED, 3))
    with pytest.raises(AppFailedError) as failed:
        status.raise_for_status()
    waited = not_reached(parse_handle(HANDLE), status, S.SUCCEEDED)
    assert isinstance(waited, UnexpectedStateError)
    for message in (str(failed.value), str(waited)):
        assert "sh/1 exited with 3; sh/0 was stopped after sh/1 failed" in message
        assert "None" not in message


def test_several_siblings_and_causes_are_listed_then_counted() -> None:
    status = failed_app(*[(S.CANCELLED, None)] * 5, (S.FAILED, 3), (S.FAILED, 4))
    assert status.failure_summary() == (
        "sh/5 exited with 3; sh/6 exited with 4; "
        "sh/0, sh/1, sh/2 and 2 more were stopped after sh/5 failed"
    )


def test_failures_that_all_look_like_stops_are_each_a_cause() -> None:
    # Killed by someone else (OOM, a user's kill): no telling which came first.
    status = failed_app((S.FAILED, 137), (S.FAILED, None))
    assert status.failure_summary() == "sh/0 exited with 137; sh/1 failed"
    status.roles[0].replicas[1].message = "DeadlineExceeded"
    assert status.failure_summary() == "sh/0 exited with 137; sh/1 failed (DeadlineExceeded)"
    assert mark_stopped_siblings(status).roles[0].replicas[1].state is S.FAILED


def test_no_summary_unless_failed_with_replicas() -> None:
    assert AppStatus(state=S.FAILED).failure_summary() == ""
    assert (
        failed_app((S.SUCCEEDED, 0)).model_copy(update={"state": S.RUNNING}).failure_summary() == ""
    )


def test_mark_stopped_siblings_makes_them_cancelled_keeping_their_codes() -> None:
    status = mark_stopped_siblings(failed_app((S.FAILED, 143), (S.FAILED, 3), (S.SUCCEEDED, 0)))
    sibling, cause, done = status.roles[0].replicas
    assert (sibling.state, sibling.exit_code, sibling.message) == (
        S.CANCELLED, 143, "stopped after sh/1 failed",
    )  # fmt: skip
    assert (cause.state, cause.exit_code) == (S.FAILED, 3)
    assert done.state is S.SUCCEEDED
    assert status.state is S.FAILED


def test_mark_stopped_siblings_leaves_other_apps_alone() -> None:
    status = failed_app((S.FAILED, 143), (S.FAILED, 3)).model_copy(update={"state": S.RUNNING})
    assert mark_stopped_siblings(status).roles[0].replicas[0].state is S.FAILED
