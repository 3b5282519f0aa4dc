"""What a run listing asks the store for: filters, a sort order and a keyset cursor.

A cursor is the sort key of the last row a page showed (its sort columns
plus the SQLite ``rowid``, which breaks ties), packed into an opaque URL-safe
string. The next page starts strictly after that key, so rows inserted
between two pages never shift, repeat or hide the rows already paged over.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from torchrun_core.errors import InvalidInputError
from torchrun_core.specs.state import AppState

if TYPE_CHECKING:
    from torchrun_core.runstore.record import RunRecord

# sort name -> (its columns, descending?); rowid always comes last, same direction.
SORTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "newest": (("created_at",), True),
    "oldest": (("created_at",), False),
    "name": (("app_name", "created_at"), False),
}
# Column positions in a row selected as ``RUN_COLUMNS, rowid``.
RUN_COLUMNS = (
    "handle, scheduler, session, app_id, app_name, state, created_at, updated_at, "
    "parent_run_id, cfg_json, app_json, launch_json"
)
_POSITION = {"app_name": 4, "created_at": 6, "rowid": 12}
_CURSOR_VERSION = 1
_CURSOR_HINT = "pass the cursor printed with the previous page, unchanged, with the same --sort"


@dataclass(frozen=True)
class RunQuery:
    """Filters (all combined with AND), a sort order and where the page starts.

    ``name`` is an ILIKE pattern over the app name (``%`` any run of
    characters, ``_`` one character, ``\\`` escapes the next one; case folds
    for ASCII letters only). ``since`` is inclusive, ``until`` exclusive.
    ``after`` is the sort key the page starts after (a decoded cursor).
    """

    scheduler: str | None = None
    states: tuple[AppState, ...] | None = None
    name: str | None = None
    since: float | None = None
    until: float | None = None
    parent: str | None = None
    sort: str = "newest"
    after: tuple[Any, ...] | None = None

    @classmethod
    def build(
        cls,
        *,
        scheduler: str | None = None,
        states: Sequence[AppState | str] | None = None,
        name: str | None = None,
        since: float | None = None,
        until: float | None = None,
        parent: str | None = None,
        sort: str = "newest",
        cursor: str | None = None,
    ) -> RunQuery:
        """A validated query.

        Raises:
            InvalidInputError: an unknown sort, a pattern ending in a lone
                backslash, or a cursor that is not one this store printed.
        """
        if sort not in SORTS:
            raise InvalidInputError(f"unknown sort {sort!r}", hint=f"use one of {', '.join(SORTS)}")
        if name is not None:
            check_name_pattern(name)
        return cls(
            scheduler=scheduler,
            states=None if states is None else tuple(AppState(s) for s in states),
            name=name,
            since=since,
            until=until,
            parent=parent,
            sort=sort,
            after=None if cursor is None else decode_cursor(cursor, sort),
        )

    @property
    def descending(self) -> bool:
        return SORTS[self.sort][1]

    def with_states(self, states: Sequence[AppState]) -> RunQuery:
        return replace(self, states=tuple(states))

    def starting_after(self, record: RunRecord) -> RunQuery:
        """This query, from the row after ``record`` on."""
        return replace(self, after=self.key_of(record))

    def key_of(self, record: RunRecord) -> tuple[Any, ...]:
        """The record's sort key (it must come from the store: it needs the rowid)."""
        columns, _ = SORTS[self.sort]
        return (*(getattr(record, c) for c in columns), record.rowid)

    def row_key(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """The sort key of a raw row selected as ``RUN_COLUMNS, rowid``."""
        columns, _ = SORTS[self.sort]
        return tuple(row[_POSITION[c]] for c in (*columns, "rowid"))

    def cursor_of(self, record: RunRecord) -> str:
        """The opaque cursor of the page that follows ``record``."""
        payload = json.dumps([_CURSOR_VERSION, self.sort, list(self.key_of(record))])
        return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    def sql(self, state: str | None, limit: int | None) -> tuple[str, list[Any]]:
        """One SELECT (of ``RUN_COLUMNS, rowid``) for one state (or any), in sort order."""
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("scheduler = ?", self.scheduler),
            ("state = ?", state),
            ("parent_run_id = ?", self.parent),
            ("created_at >= ?", self.since),
            ("created_at < ?", self.until),
            ("app_name LIKE ? ESCAPE '\\'", self.name),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        columns, desc = SORTS[self.sort]
        order = (*columns, "rowid")
        if self.after is not None:
            # A row-value comparison: SQLite seeks the sort index to the key.
            where.append(
                f"({', '.join(order)}) {'<' if desc else '>'} ({', '.join('?' * len(order))})"
            )
            params.extend(self.after)
        sql = f"SELECT {RUN_COLUMNS}, rowid FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        direction = " DESC" if desc else ""
        sql += " ORDER BY " + ", ".join(c + direction for c in order) + " LIMIT ?"
        params.append(-1 if limit is None else limit)
        return sql, params


def check_name_pattern(pattern: str) -> None:
    """Refuse an ILIKE pattern whose last character is an unescaped backslash."""
    escaped = False
    for char in pattern:
        escaped = not escaped and char == "\\"
    if escaped:
        raise InvalidInputError(
            f"name pattern {pattern!r} ends with a lone backslash",
            hint="a backslash escapes the next character; write \\\\ for a literal backslash",
        )


def decode_cursor(text: str, sort: str) -> tuple[Any, ...]:
    """The sort key inside ``text``, checked against ``sort``.

    Raises:
        InvalidInputError: ``text`` is not a cursor, or was printed for another sort.
    """
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        version, cursor_sort, key = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise InvalidInputError(f"invalid cursor {text!r}", hint=_CURSOR_HINT) from None
    if version != _CURSOR_VERSION or cursor_sort not in SORTS or not _key_fits(key, cursor_sort):
        raise InvalidInputError(f"invalid cursor {text!r}", hint=_CURSOR_HINT)
    if cursor_sort != sort:
        raise InvalidInputError(
            f"the cursor was printed for --sort {cursor_sort}, not --sort {sort}",
            hint=_CURSOR_HINT,
        )
    return tuple(key)


def _key_fits(key: Any, sort: str) -> bool:
    """Whether ``key`` has the types of ``sort``'s columns plus an integer rowid."""
    columns, _ = SORTS[sort]
    if not isinstance(key, list) or len(key) != len(columns) + 1:
        return False
    kinds = [str if c == "app_name" else (int, float) for c in columns] + [int]
    return all(
        isinstance(v, kind) and not isinstance(v, bool) and _fits_sqlite(v)
        for v, kind in zip(key, kinds, strict=True)
    )


def _fits_sqlite(value: object) -> bool:
    # SQLite INTEGERs are signed 64-bit; a larger int raises OverflowError when bound.
    return not isinstance(value, int) or -(2**63) <= value < 2**63


__all__ = ["RUN_COLUMNS", "SORTS", "RunQuery", "check_name_pattern", "decode_cursor"]
