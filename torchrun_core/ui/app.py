"""The dashboard's Starlette application: the page, its static files and the JSON API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from torchrun_core.errors import TorchrunCoreError
from torchrun_core.ui.actions_api import ActionsApi
from torchrun_core.ui.http_errors import project_error, unexpected_error
from torchrun_core.ui.logs_api import LogsApi
from torchrun_core.ui.runs_api import RunsApi
from torchrun_core.ui.security import SecurityMiddleware

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.ui.settings import UiSettings

STATIC_DIR = Path(__file__).parent / "static"


def create_app(runner: Runner, settings: UiSettings) -> Starlette:
    """The application serving ``runner``'s runs with ``settings``."""
    runs, logs, actions = RunsApi(runner, settings), LogsApi(runner), ActionsApi(runner, settings)

    def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    routes = [
        Route("/", index),
        Route("/api/meta", runs.meta),
        Route("/api/runs", runs.runs),
        Route("/api/run", runs.run),
        Route("/api/run/events", runs.events),
        Route("/api/run/request", runs.request),
        Route("/api/run/metrics", runs.metrics),
        Route("/api/run/series", runs.series),
        Route("/api/run/progress", runs.progress),
        Route("/api/run/checkpoints", runs.checkpoints),
        Route("/api/run/logs", logs.page),
        Route("/api/run/logs/stream", logs.stream),
        Route("/api/run/cancel", actions.cancel, methods=["POST"]),
        Route("/api/run/rerun", actions.rerun, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityMiddleware, settings=settings)],
        exception_handlers={TorchrunCoreError: project_error, Exception: unexpected_error},
    )
    app.state.close_streams = logs.close_streams  # called by the server as it stops
    return app
