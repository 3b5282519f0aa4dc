"""The embedded run store: every submitted app and its state history, in SQLite.

One database file, ``runs.sqlite`` in :func:`torchrun_core.paths.state_dir`,
shared by every process of the user. It runs in WAL mode so that readers
never block the writer, and every state change is written inside
``BEGIN IMMEDIATE`` so that concurrent writers neither lose nor duplicate an
event. ``sqlite3`` is imported when the first connection opens.
"""

from __future__ import annotations

import builtins
import heapq
import itertools
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import BackendError
from torchrun_core.paths import state_dir
from torchrun_core.runstore.query import RUN_COLUMNS, RunQuery
from torchrun_core.runstore.record import RunEvent, RunPage, RunRecord
from torchrun_core.runstore.rows import append_event, changes, record_of, set_wal, store_hint
from torchrun_core.runstore.schema import SCHEMA_VERSION, migrate
from torchrun_core.specs.state import AppState

if TYPE_CHECKING:
    import sqlite3

DB_NAME = "runs.sqlite"
_RUN_COLUMNS = RUN_COLUMNS
# Connections inherited across fork() must never be used or closed by the
# child (SQLite forbids it); keeping a reference stops the GC closing them.
_ABANDONED: list[sqlite3.Connection] = []


class RunStore:
    """Records submitted apps and their state changes; safe across threads and processes.

    Args:
        path: the database file; default ``state_dir() / "runs.sqlite"``.
        busy_timeout_s: how long a writer waits for another writer's lock.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout_s: float = 30.0):
        self._path = Path(path).expanduser() if path is not None else None
        self._busy_timeout_s = busy_timeout_s
        self._db: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._lock = threading.RLock()

    @property
    def path(self) -> Path:
        """The database file (resolving the state dir on first use)."""
        if self._path is None:
            self._path = state_dir() / DB_NAME
        return self._path

    # -- connection ---------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The process's connection, under the store's lock; SQLite errors become BackendError."""
        if self._pid != os.getpid():  # forked: the parent's connection and lock are not ours
            if self._db is not None:
                _ABANDONED.append(self._db)
            self._db, self._pid, self._lock = None, os.getpid(), threading.RLock()
        import sqlite3

        with self._lock:
            try:
                if self._db is None:
                    self._db = self._open()
                yield self._db
            except sqlite3.Error as err:
                raise BackendError(
                    f"run store {str(self.path)!r} failed: {err}", hint=store_hint(err)
                ) from err

    def _open(self) -> sqlite3.Connection:
        import sqlite3

        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # App specs may carry secrets in their env: keep the file private.
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(
            path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        try:
            db.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
            set_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            migrate(db, str(path))
        except BaseException:
            db.close()
            raise
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taking the database's write lock up front (BEGIN IMMEDIATE)."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        """Close this process's connection; the store reopens on next use."""
        with self._lock:
            if self._db is not None:
                if self._pid == os.getpid():
                    self._db.close()
                else:  # the parent's: never close it here
                    _ABANDONED.append(self._db)
            self._db = None

    # -- writes -------------------------------------------------------------
    def add_run(
        self,
        handle: str,
        *,
        scheduler: str,
        session: str,
        app_id: str,
        app_name: str,
        app_json: str | None,
        cfg: dict[str, Any] | None = None,
        parent_run_id: str | None = None,
        state: AppState = AppState.SUBMITTED,
        created_at: float | None = None,
        message: str | None = None,
        launch_json: str | None = None,
    ) -> RunRecord:
        """Record a newly submitted app with its first state event.

        A handle its scheduler reuses (an engine that restarted its ids)
        replaces the older record and its events. ``launch_json`` is the
        write-ahead mark of a run recorded before its launch (see
        :meth:`launched`).
        """
        now = time.time() if created_at is None else created_at
        cfg_json = json.dumps(cfg or {}, sort_keys=True)
        with self._write() as db:
            db.execute("DELETE FROM runs WHERE handle = ?", (handle,))
            inserted = db.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (handle, scheduler, session, app_id, app_name, state.value, now, now,
                 parent_run_id, cfg_json, app_json, launch_json),
            )  # fmt: skip
            db.execute(
                "INSERT INTO events (handle, idx, state, at, message) VALUES (?, 1, ?, ?, ?)",
                (handle, state.value, now, message),
            )
        return RunRecord(
            handle, scheduler, session, app_id, app_name, state, now, now,
            parent_run_id, dict(cfg or {}), None, app_json, inserted.lastrowid, launch_json,
        )  # fmt: skip

    def launched(self, handle: str, new_handle: str, app_id: str) -> bool:
        """The scheduler launched the run recorded as ``handle``: it is ``new_handle`` now.

        Clears the write-ahead mark, renames the run when its scheduler gave
        the id only now (its events follow), and turns its first event into
        SUBMITTED (so a launched run's history reads as it always did), all
        in one transaction. False when the record is gone (nothing written).
        """
        now = time.time()
        with self._write() as db:
            if new_handle != handle:
                db.execute("DELETE FROM runs WHERE handle = ?", (new_handle,))
                moved = db.execute(
                    f"INSERT INTO runs ({_RUN_COLUMNS}) SELECT ?, scheduler, session, ?, "
                    "app_name, state, created_at, updated_at, parent_run_id, cfg_json, app_json, "
                    "launch_json FROM runs WHERE handle = ?",
                    (new_handle, app_id, handle),
                )
                if moved.rowcount == 0:
                    return False
                db.execute("UPDATE events SET handle = ? WHERE handle = ?", (new_handle, handle))
                db.execute("DELETE FROM runs WHERE handle = ?", (handle,))
            found = db.execute(
                "UPDATE runs SET launch_json = NULL, state = ?, updated_at = ? WHERE handle = ?",
                (AppState.SUBMITTED.value, now, new_handle),
            )
            if found.rowcount == 0:
                return False
            db.execute(
                "UPDATE events SET state = ?, at = ?, message = NULL WHERE handle = ? AND idx = 1",
                (AppState.SUBMITTED.value, now, new_handle),
            )
        return True

    def settle_launch(
        self, handle: str, state: AppState, message: str, *, keep_mark: bool = False
    ) -> bool:
        """Record how an interrupted launch ended: ``state`` (UNKNOWN too) and why.

        Only a run still marked as launching changes; ``keep_mark`` keeps the
        mark (a run without a scheduler's id must never be looked up by its
        provisional one). True when written.
        """
        now = time.time()
        with self._write() as db:
            found = db.execute(
                "UPDATE runs SET state = ?, updated_at = ?"
                + ("" if keep_mark else ", launch_json = NULL")
                + " WHERE handle = ? AND launch_json IS NOT NULL AND state != ?",
                (state.value, now, handle, state.value),
            )
            if found.rowcount == 0:
                return False
            append_event(db, handle, state, now, message)
        return True

    def record_state(
        self, handle: str, state: AppState, message: str | None = None, *, at: float | None = None
    ) -> bool:
        """Append a state event when ``state`` differs from the run's latest; True if written.

        Nothing is written for an unknown handle, for UNKNOWN (it says nothing
        about the run), once the run is terminal (a terminal state is final),
        or when ``at`` (when the state was observed) is older than the latest
        event (a stale read racing a newer writer).
        """
        return bool(self.record_states([(handle, state, message, at)]))

    def record_states(
        self, observations: Iterable[tuple[str, AppState, str | None, float | None]]
    ) -> builtins.list[str]:
        """:meth:`record_state` for many ``(handle, state, message, at)`` in one transaction.

        Returns the handles whose state changed.
        """
        now = time.time()
        # Cheap unlocked reads first: most refreshes change nothing, and then
        # no write lock is taken at all.
        news: builtins.list[tuple[str, AppState, str | None, float]] = []
        for handle, state, message, at in observations:
            state, at = AppState(state), now if at is None else at
            latest = self._latest(handle)
            if state is not AppState.UNKNOWN and latest is not None and changes(latest, state, at):
                news.append((handle, state, message or None, at))
        if not news:
            return []
        written: builtins.list[str] = []
        with self._write() as db:
            for handle, state, message, at in news:
                row = db.execute(
                    "SELECT state, updated_at FROM runs WHERE handle = ?", (handle,)
                ).fetchone()
                if row is None or not changes((AppState(row[0]), row[1]), state, at):
                    continue  # another writer got there first
                append_event(db, handle, state, at, message)
                db.execute(
                    "UPDATE runs SET state = ?, updated_at = ? WHERE handle = ?",
                    (state.value, at, handle),
                )
                written.append(handle)
        return written

    def delete(self, handle: str) -> bool:
        """Forget a run and its events; True when it existed."""
        with self._write() as db:
            return db.execute("DELETE FROM runs WHERE handle = ?", (handle,)).rowcount > 0

    # -- reads --------------------------------------------------------------
    def _latest(self, handle: str) -> tuple[AppState, float] | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT state, updated_at FROM runs WHERE handle = ?", (handle,)
            ).fetchone()
        return None if row is None else (AppState(row[0]), row[1])

    def state(self, handle: str) -> AppState | None:
        """The run's latest recorded state, None for an unknown handle."""
        latest = self._latest(handle)
        return None if latest is None else latest[0]

    def get(self, handle: str) -> RunRecord | None:
        """The run recorded under ``handle``, or None."""
        with self._connection() as db:
            row = db.execute(f"SELECT {_RUN_COLUMNS}, rowid FROM runs WHERE handle = ?", (handle,))
            found = row.fetchone()
        return None if found is None else record_of(found)

    def list(
        self,
        scheduler: str | None = None,
        states: Sequence[AppState] | None = None,
        since: float | None = None,
        limit: int | None = None,
        *,
        until: float | None = None,
        name: str | None = None,
        parent: str | None = None,
        sort: str = "newest",
        cursor: str | None = None,
    ) -> RunPage:
        """Runs matching every given filter, in ``sort`` order, one page at a time.

        Args:
            scheduler: only this scheduler's runs.
            states: only runs whose latest recorded state is one of these.
            since: only runs created at or after this unix time.
            limit: at most this many runs (all by default).
            until: only runs created before this unix time.
            name: only runs whose app name matches this ILIKE pattern (see
                :class:`~torchrun_core.runstore.query.RunQuery`).
            parent: only the children of this run (its handle).
            sort: ``newest`` first (default), ``oldest`` first, or ``name``
                (A to Z, then oldest first).
            cursor: start after the page whose ``next_cursor`` this is.

        Raises:
            InvalidInputError: a malformed cursor or pattern, or an unknown sort.
        """
        query = RunQuery.build(
            scheduler=scheduler, states=states, name=name, since=since, until=until,
            parent=parent, sort=sort, cursor=cursor,
        )  # fmt: skip
        return self.page(query, limit)

    def page(self, query: RunQuery, limit: int | None = None) -> RunPage:
        """The first ``limit`` runs of ``query`` and, when more follow, the next page's cursor."""
        if limit is not None and limit <= 0:
            return RunPage()
        fetch = None if limit is None else limit + 1  # one more tells whether a next page exists
        values = [None] if query.states is None else sorted({s.value for s in query.states})
        # One query per state, merged: each walks its own index in sort order
        # and stops at ``fetch``; an IN (...) list would sort every match.
        per_state = [self._select(*query.sql(v, fetch)) for v in values]
        rows = heapq.merge(*per_state, key=query.row_key, reverse=query.descending)
        records = [record_of(row) for row in itertools.islice(rows, fetch)]
        if limit is None or len(records) <= limit:
            return RunPage(records)
        del records[limit:]
        return RunPage(records, query.cursor_of(records[-1]))

    def _select(self, sql: str, params: Sequence[Any]) -> builtins.list[tuple[Any, ...]]:
        with self._connection() as db:
            rows: builtins.list[tuple[Any, ...]] = db.execute(sql, params).fetchall()
        return rows

    def events(self, handle: str, after: int | None = None) -> builtins.list[RunEvent]:
        """The run's state events in order (empty for an unknown handle).

        Args:
            after: only the events whose ``seq`` is greater (to read on from
                the last event seen).
        """
        with self._connection() as db:
            rows = db.execute(
                "SELECT seq, handle, idx, state, at, message FROM events "
                "WHERE handle = ? AND seq > ? ORDER BY idx",
                (handle, -1 if after is None else after),
            ).fetchall()
        return [RunEvent(r[0], r[1], r[2], AppState(r[3]), r[4], r[5]) for r in rows]

    def __repr__(self) -> str:
        return f"RunStore({str(self._path) if self._path else 'state_dir()/' + DB_NAME!r})"


__all__ = ["DB_NAME", "SCHEMA_VERSION", "RunStore"]
