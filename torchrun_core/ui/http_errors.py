"""Project errors as JSON answers: ``{"error": ..., "hint": ...}`` with an HTTP status.

Bad input is 400 (an unknown run 404), an unreachable backend 503, any other
project error 502; anything else is 500 with no traceback in the answer.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from torchrun_core.errors import (
    AppNotFoundError,
    InvalidInputError,
    SchedulerUnavailableError,
    TorchrunCoreError,
)
from torchrun_core.ui.security import SECURITY_HEADERS

log = logging.getLogger(__name__)


def status_of(err: TorchrunCoreError) -> int:
    if isinstance(err, AppNotFoundError):
        return 404
    if isinstance(err, InvalidInputError):
        return 400
    if isinstance(err, SchedulerUnavailableError):
        return 503
    return 502


def error_body(err: TorchrunCoreError) -> dict[str, str | None]:
    return {"error": str(err), "hint": err.hint}


async def project_error(request: Request, err: Exception) -> Response:
    assert isinstance(err, TorchrunCoreError)
    return JSONResponse(error_body(err), status_code=status_of(err))


async def unexpected_error(request: Request, err: Exception) -> Response:
    log.error("dashboard request %s failed", request.url.path, exc_info=err)
    # Starlette sends this answer from its outermost layer, outside the
    # security middleware: it carries the security headers itself.
    return JSONResponse(
        {"error": f"internal error: {type(err).__name__}", "hint": "see the server's output"},
        status_code=500,
        headers={k.decode("latin-1"): v.decode("latin-1") for k, v in SECURITY_HEADERS},
    )
