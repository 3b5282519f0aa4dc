"""Kubernetes API errors to one-line torchrun_core errors, at the plugin boundary."""

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
    if status == 404:
        return AppNotFoundError(line, hint="check the namespace (--cfg namespace=...)")
    if status == 422:
        return InvalidInputError(line, hint="the server rejected a field of the manifest")
    if status == 409:
        return BackendError(line, hint="an object of that name exists already")
    if status in (401, 403):
        return BackendError(line, hint="check the kubeconfig's user and its RBAC permissions")
    return BackendError(line)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn SDK and transport exceptions raised inside into torchrun_core errors."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        yield
    except ApiException as err:
        raise api_error(int(err.status or 0), err.body, what) from None
    except (HTTPError, OSError) as err:
        raise SchedulerUnavailableError(
            f"kubernetes {what}: cannot reach the API server ({type(err).__name__})",
            hint="check the kubeconfig's server address and that the cluster is up",
        ) from None
