"""The run store: every submitted run, in an embedded SQLite database.

- ``store``: :class:`RunStore`, the database and its transactions;
- ``schema`` / ``rows``: the tables, their migrations and row conversion;
- ``record``: :class:`RunRecord`, one run as the store keeps it;
- ``query``: the filters of ``list``; ``launch_mark``: the write-ahead launch record.
"""

from __future__ import annotations

from torchrun_core._lazy import lazy_getattr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from torchrun_core.runstore.store import DB_NAME, SCHEMA_VERSION, RunStore

__all__ = ["DB_NAME", "SCHEMA_VERSION", "RunStore"]

__getattr__ = lazy_getattr(
    __name__,
    {name: "torchrun_core.runstore.store" for name in ("DB_NAME", "SCHEMA_VERSION", "RunStore")},
)
