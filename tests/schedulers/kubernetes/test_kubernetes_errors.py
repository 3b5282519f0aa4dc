"""An API server that cannot answer now is 'unavailable' (wait rides it out); a 4xx is an answer."""

from __future__ import annotations

import json

import pytest

from torchrun_core.errors import BackendError, SchedulerUnavailableError
from torchrun_core.schedulers.kubernetes.errors import api_error, translated
from torchrun_core.schedulers.kubernetes.watch import _transient


def _status(code: int, message: str) -> bytes:
    return json.dumps({"kind": "Status", "code": code, "message": message}).encode()


@pytest.mark.parametrize("code", [500, 503, 504, 429])
def test_5xx_and_429_are_unavailable(code: int) -> None:
    err = api_error(code, _status(code, "etcdserver: request timed out"), "status of a-1")
    assert isinstance(err, SchedulerUnavailableError)
    assert str(err) == (
        f"kubernetes status of a-1: the API server is unavailable: HTTP {code}: "
        "etcdserver: request timed out"
    )
    assert err.hint


@pytest.mark.parametrize("code", [400, 401, 403, 409, 410])
def test_other_4xx_are_answers(code: int) -> None:
    err = api_error(code, _status(code, "no"), "list")
    assert isinstance(err, BackendError) and not isinstance(err, SchedulerUnavailableError)


def test_transport_failures_are_unavailable() -> None:
    from urllib3.exceptions import (
        MaxRetryError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
    )

    refused = "Failed to establish a new connection: [Errno 111] Connection refused"
    failures: list[Exception] = [
        MaxRetryError(None, "/apis/batch/v1/jobs", NewConnectionError(None, refused)),  # type: ignore[arg-type]
        ProtocolError("Connection broken: IncompleteRead(0 bytes read)"),
        ReadTimeoutError(None, "/api/v1/pods", "Read timed out."),  # type: ignore[arg-type]
        ConnectionResetError(104, "Connection reset by peer"),
    ]
    for failure in failures:
        with pytest.raises(SchedulerUnavailableError) as err, translated("status of a-1"):
            raise failure
        assert str(err.value).startswith(
            "kubernetes status of a-1: the API server is unavailable: cannot reach it ("
        ), err.value


def test_a_watch_is_made_again_unless_refused_for_good() -> None:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import ProtocolError

    assert _transient(ProtocolError("Connection broken"))
    assert _transient(KeyError("raw_object"))  # the SDK on an ERROR event (deserialize=False)
    assert _transient(ApiException(status=503, reason="Service Unavailable"))
    assert not _transient(ApiException(status=403, reason="Forbidden"))
