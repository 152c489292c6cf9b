"""Value indexes over the database's rows, for snapshots and condition changes.

The condition index (condition_index.py) answers "which conditions can match this
row?" on commit.  The inverse question comes up when a monitor joins or changes its
condition: "which rows can match this condition?".  Scanning the table costs O(rows)
per distinct condition, which is what makes 1,000 clients with 1,000 different chassis
conditions expensive.  ``RowIndex`` answers it from a value index
(reference.data.value_index, the one the transaction engine's ``where`` uses too):
built on first use, then maintained from every change set the engine commits.
Candidates are returned sorted by UUID so the bytes composed from them never depend on
the index's history.
"""

from __future__ import annotations

from typing import Any

from reference.data.value_index import ValueIndex
from reference.monitor.rows import table_rows


class RowIndex:
    def __init__(self) -> None:
        self._db: Any = None  # whose rows a new index is built from
        self._values = ValueIndex(lambda table: table_rows(self._db, table))

    @property
    def in_use(self) -> bool:
        """Whether any index exists (and so must follow every change set)."""
        return self._values.in_use

    def candidates(self, db: Any, table: str, terms: list[tuple[str, str, Any]]) -> list:
        """Sorted uuids of the rows that can satisfy at least one of ``terms``."""
        self._db = db
        out: set = set()
        for column, fn, key in terms:
            out.update(self._values.lookup(table, column, fn, key))
        return sorted(out)

    def update(self, changes: dict[str, dict[Any, tuple[Any, Any]]]) -> None:
        for table, rows in changes.items():
            self._values.update(table, ((u, old, new) for u, (old, new) in rows.items()))
