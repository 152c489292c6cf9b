"""Value indexes over the database's rows, for snapshots and condition changes.

The condition index (condition_index.py) answers "which conditions can match this
row?" on commit.  The inverse question comes up when a monitor joins or changes its
condition: "which rows can match this condition?".  Scanning the table costs O(rows)
per distinct condition, which is what makes 1,000 clients with 1,000 different chassis
conditions expensive.  ``RowIndex`` keeps, per (table, column) that an indexable clause
asked about, value -> row uuids (for ``==``) and element -> row uuids (for
``includes``), built by one scan on first use and then maintained from every change set
the engine commits.  Candidates are returned sorted by UUID so the bytes composed from
them never depend on the index's history.
"""

from __future__ import annotations

from typing import Any

from reference.monitor.rows import cell_elements, cell_key, table_rows


class RowIndex:
    def __init__(self) -> None:
        # (table, column, "==" | "includes") -> key -> set of row uuids
        self._maps: dict[tuple[str, str, str], dict[Any, set]] = {}

    @property
    def in_use(self) -> bool:
        """Whether any index exists (and so must follow every change set)."""
        return bool(self._maps)

    def _keys(self, fn: str, row: Any, column: str):
        if fn == "==":
            return (cell_key(row, column),)
        return cell_elements(row, column)

    def _build(self, db: Any, table: str, column: str, fn: str) -> dict[Any, set]:
        m: dict[Any, set] = {}
        for u, row in table_rows(db, table):
            for k in self._keys(fn, row, column):
                m.setdefault(k, set()).add(u)
        self._maps[(table, column, fn)] = m
        return m

    def candidates(self, db: Any, table: str, terms: list[tuple[str, str, Any]]) -> list:
        """Sorted uuids of the rows that can satisfy at least one of ``terms``."""
        out: set = set()
        for column, fn, key in terms:
            m = self._maps.get((table, column, fn))
            if m is None:
                m = self._build(db, table, column, fn)
            out |= m.get(key, set())
        return sorted(out)

    def update(self, changes: dict[str, dict[Any, tuple[Any, Any]]]) -> None:
        for (table, column, fn), m in self._maps.items():
            rows = changes.get(table)
            if not rows:
                continue
            for u, (old, new) in rows.items():
                if old is not None:
                    for k in self._keys(fn, old, column):
                        bucket = m.get(k)
                        if bucket is not None:
                            bucket.discard(u)
                            if not bucket:
                                del m[k]
                if new is not None:
                    for k in self._keys(fn, new, column):
                        m.setdefault(k, set()).add(u)
