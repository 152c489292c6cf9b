"""The in-memory database: tables of rows, indexes, reference counts and change sets.

Public API (stable; the session, monitor and storage code build on it):
    Row   a dict column -> Datum holding every column, "_uuid" and "_version"
          included. Treat it as immutable: the engine copies, never edits in place.
          .uuid .version; make_row(table_schema, uuid, values, version=None) fills in
          defaults.
    RowChange(old, new)   old None: insert; new None: delete; both: modify.
    ChangeSet(tables, txn_id=None, comment=None, date_ms=None)
          .tables: {table name: {uuid: RowChange}} in ovsdb-server's order (tables as
          the transaction first touched them, rows in its hash order); what storage
          writes and the monitor engine composes; .txn_id is a uuid.UUID that
          storage sets when it commits the change (the monitor engine draws one for
          change sets that never went through storage, as the simulators' do);
          .is_empty(); .rows() iterates (table,
          uuid, change); .orders is row-order bookkeeping for apply() (optional, see
          the field).
    Database(schema)  .tables {name: Table}; Table.rows {uuid: Row}
          .get_row(table, uuid) -> Row | None; .apply(changes) applies a ChangeSet
          (rows, indexes, reference counts); .strong_refs(table, uuid) -> int
          (references from other rows); .weak_referrers(table, uuid) -> {(table, uuid)}
          Table.order: row UUIDs in the order ovsdb-server would iterate them (an
          OvsHmap, worked out when asked for); Table.reorder(ops) records rows
          entering (True, uuid) or leaving (False, uuid) that order.
          .index_lookup(table, i, key) -> uuid | None; .index_key(table, i, row)
          .values: a ValueIndex (reference.data.value_index) over the rows, for
          "==" and "includes" clauses on any column; apply() keeps it up to date.
    in_hash_order(order, uuids) -> the uuids in an OvsHmap's iteration order.
    refs_of(table_schema, row) -> (strong, weak): lists of (table, uuid) targets.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from reference.data.datum import (
    Datum,
    check_datum_constraints,
    default_datum,
)
from reference.data.errors import OvsdbError
from reference.data.ovs_hash import OvsHmap, uuid_hash
from reference.data.schema import DatabaseSchema, TableSchema, column_order, per_table
from reference.data.uuidgen import uuid4
from reference.data.value_index import ValueIndex

UUID = uuidlib.UUID


class Row(dict):
    """column -> Datum, with "_uuid" and "_version"."""

    __slots__ = ()

    @property
    def uuid(self) -> UUID:
        return self["_uuid"].keys[0]

    @property
    def version(self) -> UUID:
        return self["_version"].keys[0]


@per_table
def default_row(ts: TableSchema) -> dict[str, Datum]:
    return {n: default_datum(c.type) for n, c in ts.columns.items()}


@per_table
def bad_defaults(ts: TableSchema) -> tuple[str, ...]:
    """Columns whose default breaks the column's constraints (an enum without "", a
    minInteger above 0), in OVS's column order."""
    bad = []
    for name in column_order(ts):
        d = default_datum(ts.columns[name].type)
        try:
            if d.keys:
                check_datum_constraints(d, ts.columns[name].type)
        except OvsdbError:
            bad.append(name)
    return tuple(bad)


def make_row(ts: TableSchema, row_uuid: UUID, values: dict[str, Datum] | None = None,
             version: UUID | None = None) -> Row:
    row = Row(default_row(ts))
    if values:
        row.update(values)
    row["_uuid"] = Datum((row_uuid,))
    row["_version"] = Datum((version or uuid4(),))
    return row


@dataclass(slots=True)
class RowChange:
    old: Row | None
    new: Row | None
    # The row's UUID as text, when whoever made the change had it made already (a
    # cache for writers, not part of the change).
    text: str | None = field(default=None, compare=False)


@dataclass
class ChangeSet:
    tables: dict[str, dict[UUID, RowChange]] = field(default_factory=dict)
    txn_id: UUID | None = None
    comment: str | None = None
    date_ms: int | None = None
    # How rows entered and left each table's hash table during the transaction, so
    # the database iterates rows in the same order ovsdb-server would: table ->
    # (Table.serial the steps apply to, [(inserted?, uuid)]). Optional; apply()
    # ignores steps whose table changed since, and then inserts/removes rows itself.
    orders: dict[str, Any] | None = None

    def is_empty(self) -> bool:
        return not any(self.tables.values())

    def rows(self) -> Iterator[tuple[str, UUID, RowChange]]:
        for t, rows in self.tables.items():
            for u, ch in rows.items():
                yield t, u, ch


@per_table
def ref_columns(ts: TableSchema) -> list[tuple[str, str | None, bool, str | None, bool]]:
    """(column, key ref table, key strong?, value ref table, value strong?)."""
    out = []
    for name, col in ts.user_columns.items():
        k, v = col.type.key, col.type.value
        kt = k.ref_table
        vt = v.ref_table if v is not None else None
        if kt or vt:
            out.append((name, kt, k.ref_type == "strong", vt,
                        v is not None and v.ref_type == "strong"))
    return out


def refs_of(ts: TableSchema, row: Row) -> tuple[list[tuple[str, UUID]],
                                                list[tuple[str, UUID]]]:
    """(table, uuid) targets this row references strongly and weakly, with
    multiplicity; self-references excluded, as OVS does not count them."""
    strong: list[tuple[str, UUID]] = []
    weak: list[tuple[str, UUID]] = []
    me = row.uuid
    for name, kt, ks, vt, vs in ref_columns(ts):
        d = row[name]
        if kt:
            (strong if ks else weak).extend((kt, u) for u in d.keys if u != me)
        if vt and d.values is not None:
            (strong if vs else weak).extend((vt, u) for u in d.values if u != me)
    return strong, weak


def replay_order(order: OvsHmap, ops: list[tuple[bool, UUID]]) -> OvsHmap:
    """Replay rows entering (True) and leaving (False) a table's hash table."""
    for insert, u in ops:
        if insert:
            order.insert(u, uuid_hash(u))
        else:
            order.remove(u)
    return order


@per_table
def index_keys(ts: TableSchema) -> tuple[Callable[[Any], tuple], ...]:
    """For each of ts's indexes, the function from a row (a mapping of column to
    Datum) to its key in that index: a tuple of Datums, made at C speed."""
    getters: list[Callable[[Any], tuple]] = []
    for cols in ts.indexes:
        if len(cols) == 1:
            one = itemgetter(cols[0])
            getters.append(lambda row, one=one: (one(row),))
        else:
            getters.append(itemgetter(*cols))
    return tuple(getters)


def in_hash_order(order: OvsHmap, uuids: Collection[UUID]) -> list[UUID]:
    """``uuids`` (all present in ``order``) in ``order``'s iteration order, without
    walking the whole table when they are few: by (bucket, place in its chain)."""
    if len(uuids) * 4 >= len(order):
        wanted = uuids if isinstance(uuids, (set, frozenset, dict)) else set(uuids)
        return [u for u in order if u in wanted]
    hashes, mask, buckets = order.hashes, order.mask, order.buckets

    def place(u: UUID) -> tuple[int, int]:
        b = hashes[u] & mask
        chain = buckets[b]
        # Chains hold about one row each (the table grows at two per bucket).
        return (b, chain.index(u) if len(chain) > 1 else 0)
    return sorted(uuids, key=place)


class Table:
    def __init__(self, schema: TableSchema):
        self.schema = schema
        self.rows: dict[UUID, Row] = {}
        self.serial = 0  # bumped whenever rows or their order change
        self.indexes: list[dict[tuple, UUID]] = [{} for _ in schema.indexes]
        # What linking a row needs, looked up once: (index, row -> key) pairs, and
        # whether rows of this table can reference anything.
        self.keyed = tuple(zip(self.indexes, index_keys(schema), strict=True))
        self.has_refs = bool(ref_columns(schema))
        self.ref_names = tuple(name for name, *_ in ref_columns(schema))
        self._order = OvsHmap()
        # Rows that entered (True) or left (False) the hash table since the order was
        # last asked for. Working the order out costs as much as the rest of a small
        # insert, and a workload that only inserts never asks; the backlog is bounded
        # by the table's size, so a table with churn and no readers cannot grow it.
        self._order_ops: list[tuple[bool, UUID]] = []

    @property
    def order(self) -> OvsHmap:
        """Row UUIDs in ovsdb-server's iteration order."""
        if self._order_ops:
            replay_order(self._order, self._order_ops)
            self._order_ops = []
        return self._order

    def reorder(self, ops: list[tuple[bool, UUID]] | tuple[tuple[bool, UUID], ...]) -> None:
        """Rows enter (True) or leave (False) the table's hash table, in this order."""
        self._order_ops += ops
        if len(self._order_ops) > 2 * len(self.rows) + 1024:
            self.order  # noqa: B018 - replays the backlog


def _refs_move(t: Table, ch: RowChange) -> bool:
    """Whether applying ``ch`` changes what the row references.  Most modifies leave
    every reference column alone (the engine copies unchanged datums by reference), and
    then counting the row's references out and back in is wasted work."""
    if not t.has_refs:
        return False
    old, new = ch.old, ch.new
    if old is None or new is None:
        return True
    for name in t.ref_names:
        a, b = old[name], new[name]
        if a is not b and a != b:
            return True
    return False


class Database:
    def __init__(self, schema: DatabaseSchema):
        self.schema = schema
        self.tables: dict[str, Table] = {n: Table(ts) for n, ts in schema.tables.items()}
        self._strong: dict[tuple[str, UUID], int] = {}
        self._weak: dict[tuple[str, UUID], set[tuple[str, UUID]]] = {}
        self.values = ValueIndex(lambda table: self.tables[table].rows.items())

    def get_row(self, table: str, row_uuid: UUID) -> Row | None:
        return self.tables[table].rows.get(row_uuid)

    def strong_refs(self, table: str, row_uuid: UUID) -> int:
        """Strong references to the row from other rows."""
        return self._strong.get((table, row_uuid), 0)

    def has_weak_refs(self) -> bool:
        return bool(self._weak)

    def weak_referrers(self, table: str, row_uuid: UUID) -> set[tuple[str, UUID]]:
        """(table, uuid) of the rows that reference this row weakly."""
        return self._weak.get((table, row_uuid), set())

    def index_key(self, table: str, i: int, row: Row) -> tuple:
        return index_keys(self.schema.tables[table])[i](row)

    def index_lookup(self, table: str, i: int, key: tuple) -> UUID | None:
        return self.tables[table].indexes[i].get(key)

    def _unlink(self, t: Table, row: Row, refs: bool = True) -> None:
        if refs:
            strong, weak = refs_of(t.schema, row)
            for u in strong:
                n = self._strong[u] - 1
                if n:
                    self._strong[u] = n
                else:
                    del self._strong[u]
            src = (t.schema.name, row.uuid)
            for u in weak:
                s = self._weak.get(u)
                if s is not None:
                    s.discard(src)
                    if not s:
                        del self._weak[u]
        for index, key_of in t.keyed:
            key = key_of(row)
            if index.get(key) == row.uuid:
                del index[key]

    def _link(self, t: Table, u: UUID, row: Row, refs: bool = True) -> None:
        if refs:
            strong, weak = refs_of(t.schema, row)
            for target in strong:
                self._strong[target] = self._strong.get(target, 0) + 1
            src = (t.schema.name, u)
            for target in weak:
                self._weak.setdefault(target, set()).add(src)
        for index, key_of in t.keyed:
            index[key_of(row)] = u

    def apply(self, changes: ChangeSet) -> None:
        """Apply a committed change set (each change's old row is the table's current
        row). Old rows are unlinked before any new row is linked so that index keys
        may move between rows within one transaction."""
        for tname, rows in changes.tables.items():
            t = self.tables[tname]
            for ch in rows.values():
                if ch.old is not None:
                    self._unlink(t, ch.old, _refs_move(t, ch))
        values = self.values
        if values.in_use:
            for tname, rows in changes.tables.items():
                values.update(tname, ((u, ch.old, ch.new) for u, ch in rows.items()))
        orders = changes.orders or {}
        for tname, rows in changes.tables.items():
            t = self.tables[tname]
            entry = orders.get(tname)
            order = entry[1] if entry is not None and entry[0] == t.serial else None
            if order is not None:
                t.reorder(order)
            table_rows = t.rows
            for u, ch in rows.items():
                new = ch.new
                if new is None:
                    if ch.old is not None:  # (neither old nor new: nothing to do)
                        del table_rows[u]
                        if order is None:
                            t.reorder(((False, u),))
                else:
                    if order is None and ch.old is None:
                        t.reorder(((True, u),))
                    table_rows[u] = new
                    self._link(t, u, new, _refs_move(t, ch))
            t.serial += 1
