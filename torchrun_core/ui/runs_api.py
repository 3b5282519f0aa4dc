"""The read-only JSON endpoints: runs, one run, its events, request, metrics and checkpoints.

Each answers what the CLI's ``--json`` prints for the same question (a run
record is ``describe --json``'s object, a metric point ``metrics --json``'s),
read through the Runner, so every scheduler plugin shows up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from torchrun_core.runstore.record import public_record_dict
from torchrun_core.specs.dryrun import REDACTED, is_secret_key
from torchrun_core.specs.state import AppState
from torchrun_core.ui import params
from torchrun_core.ui.logs_api import replicas_of_record
from torchrun_core.ui.series import metric_series

if TYPE_CHECKING:
    from torchrun_core.runner import Runner
    from torchrun_core.runstore.record import RunRecord
    from torchrun_core.ui.settings import UiSettings

PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_CHILDREN = 200
SORTS = ("newest", "oldest", "name")


def redacted(values: dict[str, Any]) -> dict[str, Any]:
    """A copy with secret-looking keys' values hidden: nothing secret reaches the browser."""
    return {k: (REDACTED if is_secret_key(k) and v else v) for k, v in values.items()}


def run_json(record: RunRecord) -> dict[str, Any]:
    data = public_record_dict(record)
    data["cfg"] = redacted(data.get("cfg") or {})
    return data


def child_json(record: RunRecord) -> dict[str, Any]:
    """The few fields the lineage list shows of a child run."""
    return {
        "handle": record.handle,
        "app_name": record.app_name,
        "state": record.state.value,
        "created_at": record.created_at,
        "scheduler": record.scheduler,
    }


class RunsApi:
    """Endpoints bound to one Runner; Starlette runs them in its thread pool."""

    def __init__(self, runner: Runner, settings: UiSettings) -> None:
        self.runner = runner
        self.settings = settings

    def meta(self, request: Request) -> JSONResponse:
        from torchrun_core import __version__

        return JSONResponse(
            {
                "version": __version__,
                "allow_actions": self.settings.allow_actions,
                "csrf_token": self.settings.csrf_token,
                "schedulers": self.runner.registry.names("schedulers"),
                "states": [s.value for s in AppState],
            }
        )

    def runs(self, request: Request) -> JSONResponse:
        sort = params.text(request, "sort") or "newest"
        if sort not in SORTS:
            from torchrun_core.errors import InvalidInputError

            raise InvalidInputError(f"unknown sort {sort!r}", hint=f"use {', '.join(SORTS)}")
        page = self.runner.list(
            **params.run_filters(request),
            limit=params.integer(request, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE),
            sort=sort,
            cursor=params.text(request, "cursor"),
        )
        return JSONResponse({"runs": [run_json(r) for r in page], "next_cursor": page.next_cursor})

    def run(self, request: Request) -> JSONResponse:
        handle = params.handle(request)
        record = self.runner.describe(handle)
        children = self.runner.list(parent=handle, limit=MAX_CHILDREN, sort="oldest")
        return JSONResponse(
            {
                **run_json(record),
                "events": [e.to_dict() for e in self.runner.events(handle)],
                "replicas": replicas_of_record(record),
                "children": [child_json(c) for c in children],
                "more_children": children.next_cursor is not None,
            }
        )

    def events(self, request: Request) -> JSONResponse:
        after = params.integer(request, "after", None)
        events = self.runner.events(params.handle(request), after=after)
        return JSONResponse([e.to_dict() for e in events])

    def request(self, request: Request) -> JSONResponse:
        """What a rerun would submit: the scheduler's request, secrets blanked out."""
        info = self.runner.dryrun_rerun(params.handle(request))
        return JSONResponse({"request": str(info), "notes": list(info.notes)})

    def metrics(self, request: Request) -> JSONResponse:
        points = self.runner.metrics(
            params.handle(request),
            tag=params.text(request, "tag"),
            step=params.integer(request, "step", None, -(2**63)),
        )
        return JSONResponse([p.to_dict() for p in points])

    def series(self, request: Request) -> JSONResponse:
        handle = params.handle(request)
        points = self.runner.metrics(handle, tag=params.text(request, "tag"), progress=False)
        max_points = params.integer(request, "max_points", 2000, 10, 1_000_000)
        assert max_points is not None
        return JSONResponse({"handle": handle, "tags": metric_series(points, max_points)})

    def progress(self, request: Request) -> JSONResponse:
        return JSONResponse([p.to_dict() for p in self.runner.progress(params.handle(request))])

    def checkpoints(self, request: Request) -> JSONResponse:
        found = self.runner.checkpoints(params.handle(request))
        return JSONResponse([c.to_dict() for c in found])
