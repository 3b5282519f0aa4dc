"""What the run store remembers about a submitted app: its record and state events.

These are plain dataclasses so that reading thousands of rows stays cheap:
the AppDef is parsed from its stored JSON only when ``RunRecord.app`` is
first read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from torchrun_core.specs.state import AppState

if TYPE_CHECKING:
    from torchrun_core.runstore.launch_mark import LaunchMark
    from torchrun_core.specs.app import AppDef
    from torchrun_core.specs.status import AppStatus


@dataclass
class RunRecord:
    """One submitted app as the run store (and, when refreshed, its scheduler) sees it.

    ``app`` is None when the store does not know the app (only its scheduler
    does); ``status`` is the scheduler's latest report, None when not fetched.
    """

    handle: str
    scheduler: str
    session: str
    app_id: str
    app_name: str
    state: AppState
    created_at: float | None = None
    updated_at: float | None = None
    parent_run_id: str | None = None
    cfg: dict[str, Any] = field(default_factory=dict)
    status: AppStatus | None = None
    app_json: str | None = field(default=None, repr=False)
    # The store's row id: with the sort columns it places the record in a listing's order.
    rowid: int | None = field(default=None, repr=False, compare=False)
    # Set while the run is being launched, or when its launch was interrupted
    # (see torchrun_core.runstore.launch_mark); None once its scheduler has answered.
    launch_json: str | None = field(default=None, repr=False)
    # Why ``state`` may be out of date: its scheduler could not be asked just now.
    stale: str | None = None

    @property
    def launch(self) -> LaunchMark | None:
        """The write-ahead mark of a launch not yet answered by the scheduler, else None."""
        if self.launch_json is None:
            return None
        from torchrun_core.runstore.launch_mark import LaunchMark

        return LaunchMark.from_json(self.launch_json)

    @cached_property
    def app(self) -> AppDef | None:
        """The submitted AppDef (with the injected tracker env), parsed on first use."""
        if self.app_json is None:
            return None
        from torchrun_core.specs.app import AppDef

        return AppDef.model_validate_json(self.app_json)

    def recorded_status(self, message: str = "") -> AppStatus:
        """An AppStatus from what the store knows (no per-replica detail)."""
        from torchrun_core.specs.status import AppStatus

        return AppStatus(
            state=self.state,
            handle=self.handle,
            message=message,
            created_at=self.created_at,
            finished_at=self.updated_at if self.state.is_terminal else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible data, for ``--json`` output."""
        return {
            "handle": self.handle,
            "scheduler": self.scheduler,
            "session": self.session,
            "app_id": self.app_id,
            "app_name": self.app_name,
            "state": self.state.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "parent_run_id": self.parent_run_id,
            "cfg": self.cfg,
            "app": json.loads(self.app_json) if self.app_json is not None else None,
            "status": self.status.model_dump(mode="json") if self.status is not None else None,
            "stale": self.stale,
            "launch": _launch_dict(self.launch),
        }


def _launch_dict(mark: LaunchMark | None) -> dict[str, Any] | None:
    if mark is None:
        return None
    return {"host": mark.host, "pid": mark.pid, "id_known": mark.id_known, "at": mark.at}


class RunPage(list[RunRecord]):
    """One page of a run listing: the records, plus the cursor of the page after it.

    It is a plain list of :class:`RunRecord`, so callers that only want the
    rows need not know about pages. ``next_cursor`` is None on the last page;
    otherwise pass it back as ``cursor=`` to read on.
    """

    def __init__(self, records: Iterable[RunRecord] = (), next_cursor: str | None = None) -> None:
        super().__init__(records)
        self.next_cursor = next_cursor

    def __repr__(self) -> str:
        return f"RunPage({list.__repr__(self)}, next_cursor={self.next_cursor!r})"


@dataclass(frozen=True)
class RunEvent:
    """One state change of one run.

    ``seq`` is unique and increasing across the whole store; ``index`` counts
    this run's events from 1.
    """

    seq: int
    handle: str
    index: int
    state: AppState
    at: float
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible data, for ``--json`` output."""
        return {
            "seq": self.seq,
            "handle": self.handle,
            "index": self.index,
            "state": self.state.value,
            "at": self.at,
            "message": self.message,
        }


def public_record_dict(record: RunRecord) -> dict[str, Any]:
    """The JSON form of a record shown to people (``--json``, the dashboard).

    The app spec is re-redacted from the parsed AppDef, so that a row written
    before the store masked secrets shows none either.
    """
    from torchrun_core.specs.dryrun import redacted_app_dict

    data = record.to_dict()
    if record.app is not None:
        data["app"] = redacted_app_dict(record.app)
    return data


def stored_app_json(app: AppDef) -> str:
    """The JSON the store keeps of ``app``: secret-looking env values masked.

    The store feeds ``describe`` and ``--json`` output, where secrets must
    never appear; the scheduler got the real values in its request.
    """
    from torchrun_core.specs.dryrun import is_secret_key, redact_env

    if any(is_secret_key(k) for role in app.roles for k in role.env):
        roles = [role.model_copy(update={"env": redact_env(role.env)}) for role in app.roles]
        app = app.model_copy(update={"roles": roles})
    return app.model_dump_json()


def stored_cfg(cfg: Any) -> dict[str, Any]:
    """A scheduler's options (model or mapping) as JSON data, secret-looking values masked."""
    from torchrun_core.specs.dryrun import REDACTED, is_secret_key

    if hasattr(cfg, "model_dump"):
        data: dict[str, Any] = cfg.model_dump(mode="json")
    elif isinstance(cfg, Mapping):
        data = {str(k): v for k, v in cfg.items()}
    else:
        data = {}
    return {k: (REDACTED if is_secret_key(k) and v else v) for k, v in data.items()}
