"""The run store's schema and its migrations, versioned by ``PRAGMA user_version``.

Each entry of ``MIGRATIONS`` takes the database from the previous version to
its own; a later release appends entries and never edits old ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchrun_core.errors import BackendError

if TYPE_CHECKING:
    import sqlite3

MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
    (
        1,
        (
            """CREATE TABLE runs (
                handle        TEXT PRIMARY KEY,
                scheduler     TEXT NOT NULL,
                session       TEXT NOT NULL,
                app_id        TEXT NOT NULL,
                app_name      TEXT NOT NULL,
                state         TEXT NOT NULL,
                created_at    REAL NOT NULL,
                updated_at    REAL NOT NULL,
                parent_run_id TEXT,
                cfg_json      TEXT NOT NULL DEFAULT '{}',
                app_json      TEXT
            )""",
            # list() filters by scheduler or state and reads newest first with a limit:
            # each filter gets an index whose order already is the answer's order.
            "CREATE INDEX runs_by_created ON runs (created_at)",
            "CREATE INDEX runs_by_scheduler ON runs (scheduler, created_at)",
            "CREATE INDEX runs_by_state ON runs (state, created_at)",
            "CREATE INDEX runs_by_scheduler_state ON runs (scheduler, state, created_at)",
            "CREATE INDEX runs_by_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL",
            """CREATE TABLE events (
                seq     INTEGER PRIMARY KEY AUTOINCREMENT,
                handle  TEXT NOT NULL REFERENCES runs (handle) ON DELETE CASCADE,
                idx     INTEGER NOT NULL,
                state   TEXT NOT NULL,
                at      REAL NOT NULL,
                message TEXT,
                UNIQUE (handle, idx)
            )""",
        ),
    ),
    (
        2,
        (
            # list(sort="name") walks these (the second with a state filter), and
            # list(parent=...) reads a run's children in creation order.
            "CREATE INDEX runs_by_name ON runs (app_name, created_at)",
            "CREATE INDEX runs_by_state_name ON runs (state, app_name, created_at)",
            "DROP INDEX runs_by_parent",
            "CREATE INDEX runs_by_parent ON runs (parent_run_id, created_at) "
            "WHERE parent_run_id IS NOT NULL",
        ),
    ),
    (
        3,
        (
            # Write-ahead: a run is recorded before its launch, with a mark naming the
            # launching process (torchrun_core.runstore.launch_mark), cleared once the scheduler
            # answered. NULL for every run recorded before this version: all launched.
            "ALTER TABLE runs ADD COLUMN launch_json TEXT",
        ),
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(db: sqlite3.Connection, where: str) -> None:
    """Bring ``db`` to :data:`SCHEMA_VERSION`; concurrent openers migrate exactly once.

    Raises:
        BackendError: the file was written by a newer torchrun_core.
    """
    version = _version(db, where)
    if version == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = _version(db, where)  # another process may have migrated meanwhile
        for target, statements in MIGRATIONS:
            if target > version:
                for statement in statements:
                    db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _version(db: sqlite3.Connection, where: str) -> int:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise BackendError(
            f"run store {where!r} has schema version {version}, newer than this "
            f"torchrun_core understands ({SCHEMA_VERSION})",
            hint="upgrade torchrun-core, or use another state dir with TORCHRUN_CORE_STATE_DIR",
        )
    return version
