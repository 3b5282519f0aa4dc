"""Kubernetes API errors to one-line torchrun_core errors, at the plugin boundary.

What the API server cannot answer now (connection refused or reset, a
timeout, a broken stream, HTTP 5xx or 429) is a SchedulerUnavailableError:
``wait`` rides it out, while a 4xx is an answer and raised as such.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torchrun_core.errors import (
    AppNotFoundError,
    BackendError,
    InvalidInputError,
    SchedulerUnavailableError,
    TorchrunCoreError,
)

# Every call made while observing an app gives up after this long (connect, read):
# a server that went away without closing the connection must not hang ``wait``.
REQUEST_TIMEOUT = (10.0, 60.0)
_UNAVAILABLE_HINT = "check the kubeconfig's server address and that the cluster is up"


def _body(raw: Any) -> dict[str, Any]:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        data = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {"message": str(raw)}
    return data if isinstance(data, dict) else {}


def api_error(status: int, raw_body: Any, what: str) -> TorchrunCoreError:
    """The error for an API answer ``status`` with JSON ``raw_body`` while doing ``what``."""
    body = _body(raw_body)
    message = str(body.get("message") or body.get("reason") or f"HTTP {status}")
    causes = (body.get("details") or {}).get("causes") or []
    fields = "; ".join(
        f"{c.get('field', '?')}: {c.get('message', '')}".strip() for c in causes if c
    )
    line = f"kubernetes {what}: {fields or message}".replace("\n", " ")
    if status >= 500 or status == 429:  # overloaded, restarting, or its etcd is away
        return unavailable(what, f"HTTP {status}: {message}")
    if status == 404:
        return AppNotFoundError(line, hint="check the namespace (--cfg namespace=...)")
    if status == 422:
        return InvalidInputError(line, hint="the server rejected a field of the manifest")
    if status == 409:
        return BackendError(line, hint="an object of that name exists already")
    if status in (401, 403):
        return BackendError(line, hint="check the kubeconfig's user and its RBAC permissions")
    return BackendError(line)


def unavailable(what: str, why: str) -> SchedulerUnavailableError:
    """The error for an API server that did not answer ``what`` (``why``: one line)."""
    return SchedulerUnavailableError(
        f"kubernetes {what}: the API server is unavailable: {why}".replace("\n", " "),
        hint=_UNAVAILABLE_HINT,
    )


def _reason(err: BaseException) -> str:
    """Why a transport call failed, in a few words: urllib3 wraps the OS error."""
    inner = getattr(err, "reason", None) or err
    text = str(inner).rsplit(": ", 1)[-1].strip(" >'\")")
    return f"{type(inner).__name__}: {text}" if text else type(inner).__name__


def translate(err: BaseException, what: str) -> BaseException:
    """The torchrun_core error for an exception the SDK raised while doing ``what``.

    Errors of the hierarchy, and exceptions that are no API or transport
    failure, are returned as they are.
    """
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    if isinstance(err, ApiException):
        return api_error(int(err.status or 0), err.body, what)
    if isinstance(err, (HTTPError, OSError)):
        return unavailable(what, f"cannot reach it ({_reason(err)})")
    return err


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn SDK and transport exceptions raised inside into torchrun_core errors."""
    try:
        yield
    except TorchrunCoreError:
        raise
    except Exception as err:
        mapped = translate(err, what)
        if mapped is err:
            raise
        raise mapped from None
