"""Value indexes over a table's rows: which rows can satisfy an ``==`` or ``includes``.

ovsdb-server answers a ``where`` on a column without a schema index by scanning the
table in C, which stays cheap at any size we serve; a scan in Python does not.  So both
the transaction engine (``where`` of select/update/mutate/delete/wait) and the monitor
engine (initial contents of a conditional monitor) ask this index instead.  An index is
one ``(table, column, function)`` -> ``key -> set of row uuids`` map, where the key is
what ``Clause.index_term()`` names: the whole cell for ``==``, each element (an atom, or
a (key, value) pair of a map) for ``includes``.

- Built on first use by one pass over the table's rows (no dearer than the scan it
  replaces), then kept up to date from every committed change (``update``).
- Bounded: at most ``MAX_INDEXES`` exist (the least recently used goes first), and one
  that has gone ``IDLE_CHANGES`` changes of its table without a lookup is dropped, so a
  one-off query does not tax every later commit.  Either way the next lookup rebuilds it.
- Candidates only: a caller still evaluates the whole condition on each row the index
  returns; the index never decides a match on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

MAX_INDEXES = 64
IDLE_CHANGES = 10_000

# (table, column, "==" | "includes")
IndexName = tuple[str, str, str]
# Where the rows come from when an index is built: table -> (uuid, row) pairs.
RowSource = Callable[[str], Iterable[tuple[Any, Any]]]


def index_keys(function: str, row: Any, column: str) -> Iterable[Any]:
    """The keys ``row`` is filed under in an index of ``column`` for ``function``."""
    d = row[column]
    if function == "==":
        return (d,)
    if d.values is None:
        return d.keys
    return zip(d.keys, d.values, strict=True)


class _Index:
    __slots__ = ("column", "function", "buckets", "idle")

    def __init__(self, column: str, function: str) -> None:
        self.column = column
        self.function = function
        # key -> the one row uuid filed under it, or a set of two or more: most keys
        # (names, ids) pick one row, and a set per row would triple the index's size.
        self.buckets: dict[Any, Any] = {}
        self.idle = 0  # changes of the table since the last lookup

    def add(self, u: Any, row: Any) -> None:
        buckets = self.buckets
        for k in index_keys(self.function, row, self.column):
            bucket = buckets.get(k)
            if bucket is None:
                buckets[k] = u
            elif type(bucket) is set:
                bucket.add(u)
            elif bucket != u:
                buckets[k] = {bucket, u}

    def discard(self, u: Any, row: Any) -> None:
        buckets = self.buckets
        for k in index_keys(self.function, row, self.column):
            bucket = buckets.get(k)
            if type(bucket) is set:
                bucket.discard(u)
                if len(bucket) == 1:
                    buckets[k] = next(iter(bucket))
            elif bucket is not None and bucket == u:
                del buckets[k]

    def get(self, key: Any) -> Collection:
        bucket = self.buckets.get(key)
        if bucket is None:
            return ()
        return bucket if type(bucket) is set else (bucket,)


class ValueIndex:
    """The value indexes of one database (or one monitor engine's view of it)."""

    def __init__(self, rows_of: RowSource, max_indexes: int = MAX_INDEXES,
                 idle_changes: int = IDLE_CHANGES) -> None:
        self._rows_of = rows_of
        self._max = max_indexes
        self._idle_max = idle_changes
        # table -> {(column, function): index}; the insertion order of _lru is the
        # recency of lookups, oldest first.
        self._tables: dict[str, dict[tuple[str, str], _Index]] = {}
        self._lru: dict[IndexName, None] = {}

    @property
    def in_use(self) -> bool:
        """Whether any index exists (and so must follow every change)."""
        return bool(self._lru)

    def names(self) -> list[IndexName]:
        """The indexes that exist, least recently used first."""
        return list(self._lru)

    def lookup(self, table: str, column: str, function: str, key: Any) -> Collection:
        """Uuids of the rows of ``table`` filed under ``key``: the rows whose ``column``
        equals it (``==``) or holds it (``includes``).  Do not modify the result."""
        by_column = self._tables.get(table)
        index = None if by_column is None else by_column.get((column, function))
        name = (table, column, function)
        if index is None:
            index = self._build(name)
        else:
            index.idle = 0
            del self._lru[name]
            self._lru[name] = None
        return index.get(key)

    def _build(self, name: IndexName) -> _Index:
        while len(self._lru) >= self._max:
            self._drop(next(iter(self._lru)))
        table, column, function = name
        index = _Index(column, function)
        for u, row in self._rows_of(table):
            index.add(u, row)
        self._tables.setdefault(table, {})[(column, function)] = index
        self._lru[name] = None
        return index

    def _drop(self, name: IndexName) -> None:
        table, column, function = name
        by_column = self._tables[table]
        del by_column[(column, function)]
        if not by_column:
            del self._tables[table]
        del self._lru[name]

    def update(self, table: str, changes: Iterable[tuple[Any, Any, Any]]) -> None:
        """Follow committed changes of ``table``: (uuid, old row or None, new row or
        None) each, old rows as the index last saw them."""
        by_column = self._tables.get(table)
        if not by_column:
            return
        changes = changes if isinstance(changes, list) else list(changes)
        for key, index in list(by_column.items()):
            index.idle += 1
            if index.idle > self._idle_max:
                self._drop((table, *key))
                continue
            column = index.column
            for u, old, new in changes:
                if old is not None:
                    if new is not None and old[column] is new[column]:
                        continue  # the common modify: this column kept its datum
                    index.discard(u, old)
                if new is not None:
                    index.add(u, new)
