"""Cancel and rerun: only when the dashboard was started with ``--allow-actions``.

POST only, with a JSON body ``{"handle": ...}``; the security middleware has
already checked the CSRF token and the origin.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse

from torchrun_core.errors import InvalidInputError
from torchrun_core.specs.handle import parse_handle

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.ui.settings import UiSettings

ACTIONS_OFF = JSONResponse(
    {
        "error": "actions are disabled on this dashboard",
        "hint": "start it with: torchrun-core ui --allow-actions",
    },
    status_code=403,
)


async def _handle(request: Request) -> str:
    # Only JSON: a cross-site HTML form can send text/plain, never application/json.
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise InvalidInputError("an action's body must be application/json", hint='{"handle": ...}')
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("handle"), str):
        raise InvalidInputError("the body must be JSON with a run's handle", hint='{"handle": ...}')
    return str(parse_handle(body["handle"]))


class ActionsApi:
    def __init__(self, runner: Runner, settings: UiSettings) -> None:
        self.runner = runner
        self.settings = settings

    async def cancel(self, request: Request) -> JSONResponse:
        if not self.settings.allow_actions:
            return ACTIONS_OFF
        from starlette.concurrency import run_in_threadpool

        handle = await _handle(request)
        await run_in_threadpool(self.runner.cancel, handle)
        return JSONResponse({"handle": handle, "action": "cancel"})

    async def rerun(self, request: Request) -> JSONResponse:
        if not self.settings.allow_actions:
            return ACTIONS_OFF
        from starlette.concurrency import run_in_threadpool

        handle = await _handle(request)
        child = await run_in_threadpool(self.runner.rerun, handle)
        return JSONResponse({"handle": str(child), "parent": handle, "action": "rerun"})
