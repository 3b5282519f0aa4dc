"""Row-level pieces of the run store: rows to records, event appends, WAL setup, error hints.

Split from :mod:`torchrun_core.runstore` so that the store class stays one
screenful per concern; nothing here opens a connection.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from torchrun_core.paths import STATE_DIR_ENV
from torchrun_core.runstore.record import RunRecord
from torchrun_core.specs.state import AppState

if TYPE_CHECKING:
    import sqlite3


def store_hint(err: Exception) -> str:
    if "locked" in str(err):  # busy for busy_timeout_s: the file itself is fine
        return "another process kept the run store locked; try again once it is done"
    return (
        "check the file and its directory; move it aside to start afresh, "
        f"or use another state dir with {STATE_DIR_ENV}"
    )


def append_event(
    db: sqlite3.Connection, handle: str, state: AppState, at: float, message: str | None
) -> None:
    """Append the run's next state event (inside the caller's write transaction)."""
    db.execute(
        "INSERT INTO events (handle, idx, state, at, message) VALUES (?, (SELECT "
        "COALESCE(MAX(idx), 0) + 1 FROM events WHERE handle = ?), ?, ?, ?)",
        (handle, handle, state.value, at, message),
    )


def changes(latest: tuple[AppState, float], state: AppState, at: float) -> bool:
    """Whether observing ``state`` at ``at`` is news over the run's latest (state, time)."""
    current, updated_at = latest
    return state is not current and not current.is_terminal and at >= updated_at


def record_of(row: tuple[Any, ...]) -> RunRecord:
    """A record from a row of ``RUN_COLUMNS`` (and optionally its ``rowid``)."""
    (handle, scheduler, session, app_id, app_name, state, created, updated, parent, cfg, app,
     launch) = row[:12]  # fmt: skip
    return RunRecord(
        handle, scheduler, session, app_id, app_name, AppState(state), created, updated,
        parent, json.loads(cfg) if cfg else {}, None, app, row[12] if len(row) > 12 else None,
        launch,
    )  # fmt: skip


def set_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, retrying while another process holds the lock (a first concurrent open)."""
    import sqlite3

    # Already WAL (every open but the first): setting it again would wait for
    # another process's write lock for nothing.
    if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + 10.0
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
