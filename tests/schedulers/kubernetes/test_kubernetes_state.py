"""Job and Pod objects (as the API returns them) mapped to an AppStatus; API errors translated."""

from __future__ import annotations

import json
from typing import Any

import pytest

from torchrun_core.errors import (
    AppNotFoundError,
    BackendError,
    InvalidInputError,
    SchedulerUnavailableError,
)
from torchrun_core.schedulers.kubernetes.errors import api_error, translated
from torchrun_core.schedulers.kubernetes.logs import timed_lines, whole_lines
from torchrun_core.schedulers.kubernetes.state import app_status, jobs_to_stop
from torchrun_core.specs.state import AppState

APP = "a-1"


def _job(k: int, condition: str | None = None, **meta: Any) -> dict[str, Any]:
    labels = {"torchrun-core/app-id": APP, "torchrun-core/role": "w",
              "torchrun-core/replica-id": str(k), "torchrun-core/role-index": "0"}  # fmt: skip
    status: dict[str, Any] = {}
    if condition:
        status["conditions"] = [{"type": condition, "status": "True"}]
    return {"metadata": {"name": f"{APP}-w-{k}", "labels": labels,
                         "creationTimestamp": "2026-11-21T20:00:00Z", **meta},
            "spec": {}, "status": status}  # fmt: skip


def _pod(k: int, phase: str, exit_code: int | None = None, n: int = 0) -> dict[str, Any]:
    statuses = []
    if exit_code is not None:
        term = {
            "exitCode": exit_code,
            "reason": "Error" if exit_code else "Completed",
            "startedAt": "2026-11-21T20:00:01Z",
            "finishedAt": "2026-11-21T20:00:02Z",
        }
        statuses = [{"state": {"terminated": term}}]  # fmt: skip
    return {"metadata": {"name": f"p{k}-{n}", "labels": {"job-name": f"{APP}-w-{k}"},
                         "creationTimestamp": f"2026-11-21T20:00:0{n}Z"},
            "status": {"phase": phase, "podIP": f"10.0.0.{k}",
                       "containerStatuses": statuses}}  # fmt: skip


def test_no_jobs_is_unknown_app() -> None:
    assert app_status([], []) is None


def test_running_pending_and_succeeded_replicas() -> None:
    jobs = [_job(0), _job(1), _job(2, "Complete")]
    pods = [_pod(0, "Running"), _pod(1, "Pending"), _pod(2, "Succeeded", 0)]
    status = app_status(jobs, pods)
    assert status is not None and status.state == AppState.RUNNING
    states = [r.state for r in status.roles[0].replicas]
    assert states == [AppState.RUNNING, AppState.PENDING, AppState.SUCCEEDED]
    assert status.roles[0].replicas[2].exit_code == 0
    assert status.roles[0].replicas[0].hostname == "10.0.0.0"


def test_all_complete_is_succeeded() -> None:
    status = app_status([_job(0, "Complete")], [_pod(0, "Succeeded", 0)])
    assert status is not None and status.state == AppState.SUCCEEDED


def test_failed_job_fails_the_app_with_its_exit_code_and_attempts() -> None:
    pods = [_pod(0, "Failed", 3, n=0), _pod(0, "Failed", 3, n=1)]
    status = app_status([_job(0, "Failed"), _job(1)], [*pods, _pod(1, "Running")])
    assert status is not None and status.state == AppState.FAILED
    replica = status.roles[0].replicas[0]
    assert replica.exit_code == 3 and replica.attempt == 1
    assert status.num_restarts == 1
    assert "w[0] exited with 3" in status.message


def test_failed_pod_with_retries_left_is_pending() -> None:
    status = app_status([_job(0)], [_pod(0, "Failed", 1)])
    assert status is not None and status.state == AppState.PENDING


def test_deleting_jobs_are_cancelled() -> None:
    job = _job(0, deletionTimestamp="2026-11-21T20:01:00Z")
    status = app_status([job], [_pod(0, "Running")])
    assert status is not None and status.state == AppState.CANCELLED


def test_siblings_of_a_failed_replica_are_stopped_and_reported_stopped() -> None:
    failed, going = _job(1, "Failed"), _job(0)
    assert jobs_to_stop([failed, going]) == [f"{APP}-w-0"]
    going["metadata"]["deletionTimestamp"] = "2026-11-21T20:00:05Z"
    assert jobs_to_stop([failed, going]) == []  # being deleted: not stopped twice
    status = app_status([going, failed], [_pod(0, "Running"), _pod(1, "Failed", 1)])
    assert status is not None
    assert status.state == AppState.FAILED  # not CANCELLED: the failure stays visible
    # Stopped, not failed: no message blames it (nor says "exited with None").
    assert status.replica("w", 0).state == AppState.CANCELLED
    assert status.replica("w", 0).message == "stopped after w/1 failed"
    assert status.message == "w[1] exited with 1 Error; stopped w[0]"
    assert status.failure_summary() == "w/1 exited with 1; w/0 was stopped after w/1 failed"


def test_a_failed_job_without_an_exit_code_never_says_none() -> None:
    status = app_status([_job(0, "Failed")], [])
    assert status is not None and status.state == AppState.FAILED
    assert "None" not in status.message and "None" not in status.failure_summary()


def _body(status: int, message: str, causes: list[dict[str, str]] | None = None) -> bytes:
    details = {"causes": causes} if causes else {}
    return json.dumps({"kind": "Status", "code": status, "message": message,
                       "details": details}).encode()  # fmt: skip


def test_422_names_the_fields_on_one_line() -> None:
    causes = [{"field": "spec.template.spec.containers[0].image", "message": "Required value"}]
    err = api_error(422, _body(422, 'Job.batch "x" is invalid:\nlong', causes), "create Job x")
    assert isinstance(err, InvalidInputError)
    assert str(err) == (
        "kubernetes create Job x: spec.template.spec.containers[0].image: Required value"
    )


@pytest.mark.parametrize(
    ("code", "kind"), [(404, AppNotFoundError), (409, BackendError), (403, BackendError)]
)
def test_other_codes(code: int, kind: type[Exception]) -> None:
    err = api_error(code, _body(code, "jobs.batch is forbidden"), "list")
    assert isinstance(err, kind) and "\n" not in str(err)
    assert "jobs.batch is forbidden" in str(err)


def test_sdk_errors_are_translated() -> None:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import MaxRetryError

    with pytest.raises(InvalidInputError, match="image: Required"), translated("create"):
        exc = ApiException(status=422, reason="Unprocessable")
        exc.body = _body(422, "bad", [{"field": "image", "message": "Required value"}])
        raise exc
    with pytest.raises(SchedulerUnavailableError, match="cannot reach"), translated("list"):
        raise MaxRetryError(None, "/api", "refused")  # type: ignore[arg-type]


def test_log_lines_stay_whole_and_filter_by_time() -> None:
    chunks = [b"2026-11-21T20:00:01.123456789Z he", b"llo\n2026-11-21T20:00:05Z wor",
              b"ld\n2026-11-21T20:00:09Z no newline"]  # fmt: skip
    lines = list(whole_lines(chunks))
    assert lines[1] == "2026-11-21T20:00:05Z world\n"
    assert list(timed_lines(lines, None, None)) == ["hello\n", "world\n", "no newline\n"]
    t5 = 1795291205.0  # 2026-11-21T20:00:05Z
    assert list(timed_lines(lines, t5, t5)) == ["world\n"]
