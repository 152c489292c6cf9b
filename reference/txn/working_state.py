"""The working state of one transaction, laid out the way ovsdb-server keeps it.

OVS iterates rows in hash-table order (a table's rows by UUID hash; the rows a
transaction touched, per table, in the order tables were first touched), and that
order decides which error a transaction reports when several rows are wrong and which
weak references a commit removes. So the overlay mirrors OVS's structures: one
TxnTable per touched table (in first-touch order) holding TxnRow(old, new, n_refs,
changed) in an OvsHmap, plus a copy-on-write OvsHmap of the table's row order when
the transaction inserts or deletes rows. Nothing here changes the Database's contents;
abort() and keep_orders() do update its row order, as a failed OVS transaction does.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable

from reference.data.database import Database, Row, replay_order
from reference.data.datum import SymbolTable
from reference.data.ovs_hash import OvsHmap, uuid_hash

UUID = uuidlib.UUID


class TxnRow:
    __slots__ = ("uuid", "table", "old", "new", "n_refs", "changed", "deleted_refs",
                 "serial")

    def __init__(self, u: UUID, table: str, old: Row | None, new: Row | None, n_refs: int):
        self.uuid = u
        self.table = table
        self.old = old
        self.new = new
        self.n_refs = n_refs
        self.changed: set[str] = set()
        self.deleted_refs: list[tuple[str, object, object]] = []  # (column, key, value)
        self.serial = -1


class TxnTable:
    __slots__ = ("name", "rows", "edits", "ops", "order", "base", "serial", "n_processed")

    def __init__(self, name: str):
        self.name = name
        self.rows = OvsHmap()  # uuids of this table's TxnRows
        self.edits = 0  # how often a uuid entered or left rows (see for_each_row)
        # Row inserts/removals in the table's hash table, replayed on a copy of the
        # committed order only when someone iterates (most transactions never do).
        self.ops: list[tuple[bool, UUID]] = []  # (inserted?, uuid)
        self.order: OvsHmap | None = None  # materialised order (committed + ops)
        self.base = -1  # the Table.serial the ops apply to
        self.serial = -1
        self.n_processed = 0


class Txn:
    def __init__(self, db: Database, owns_lock: Callable[[str], bool], now_ms: float,
                 started_ms: float, read_only: bool, db_name: str):
        self.db = db
        self.symtab = SymbolTable()
        self.owns_lock = owns_lock
        self.now_ms = now_ms
        self.started_ms = started_ms
        self.read_only = read_only
        self.db_name = db_name
        self.tables: list[TxnTable] = []  # OVS's txn_tables list
        self.by_name: dict[str, TxnTable] = {}
        self.txn_rows: dict[tuple[str, UUID], TxnRow] = {}
        self.durable = False
        self.comments: list[str] = []
        self.serial = 0

    # -- structure

    def txn_table(self, name: str) -> TxnTable:
        t = self.by_name.get(name)
        if t is None:
            t = self.by_name[name] = TxnTable(name)
            self.tables.append(t)
        return t

    def drop_table(self, t: TxnTable) -> None:
        self.tables.remove(t)
        del self.by_name[t.name]

    def find(self, table: str, u: UUID) -> TxnRow | None:
        return self.txn_rows.get((table, u))

    def create_row(self, table: str, u: UUID, old: Row | None, new: Row | None) -> TxnRow:
        r = TxnRow(u, table, old, new, self.db.strong_refs(table, u) if old is not None else 0)
        self.txn_rows[(table, u)] = r
        t = self.txn_table(table)
        t.rows.insert(u, uuid_hash(u))
        t.edits += 1
        return r

    def remove_row(self, r: TxnRow) -> None:
        del self.txn_rows[(r.table, r.uuid)]
        t = self.by_name[r.table]
        t.rows.remove(r.uuid)
        t.edits += 1

    def order_op(self, table: str, u: UUID, insert: bool) -> None:
        """Record a row entering (insert) or leaving the table's hash table."""
        t = self.txn_table(table)
        if not t.ops:
            t.base = self.db.tables[table].serial
        t.ops.append((insert, u))
        if t.order is not None:
            if insert:
                t.order.insert(u, uuid_hash(u))
            else:
                t.order.remove(u)

    def table_order(self, table: str) -> OvsHmap:
        t = self.by_name.get(table)
        dbt = self.db.tables[table]
        if t is None or not t.ops:
            return dbt.order
        if t.order is None:
            t.order = replay_order(dbt.order.copy(), t.ops)
        return t.order

    # -- current state (what OVS's table->rows holds mid-transaction)

    def get(self, table: str, u: UUID) -> Row | None:
        r = self.txn_rows.get((table, u))
        if r is not None:
            return r.new
        return self.db.tables[table].rows.get(u)

    def n_rows(self, table: str) -> int:
        t = self.by_name.get(table)
        n = len(self.db.tables[table].rows)
        return n if t is None else n + sum(1 if ins else -1 for ins, _ in t.ops)

    def rows(self, table: str) -> list[Row]:
        """The table's live rows in OVS's order, as this transaction sees them."""
        t = self.by_name.get(table)
        dbt = self.db.tables[table]
        if t is None or len(t.rows) == 0:
            dbrows = dbt.rows
            return [dbrows[u] for u in self.table_order(table)]
        out = []
        for u in self.table_order(table):
            row = self.get(table, u)
            if row is not None:
                out.append(row)
        return out

    def may_create(self, table: str, u: UUID) -> bool:
        return self.get(table, u) is None and (table, u) not in self.txn_rows

    # -- changes made by operations

    def insert(self, table: str, row: Row) -> None:
        self.create_row(table, row.uuid, None, row)
        self.order_op(table, row.uuid, True)

    def modify(self, table: str, row: Row, values: dict) -> Row:
        r = self.txn_rows.get((table, row.uuid))
        new = Row(row)
        new.update(values)
        if r is None:
            self.create_row(table, row.uuid, self.db.tables[table].rows[row.uuid], new)
        else:
            r.new = new
        return new

    def find_or_make(self, table: str, u: UUID) -> TxnRow | None:
        """OVS's find_or_make_txn_row: pull a live row into the transaction."""
        r = self.txn_rows.get((table, u))
        if r is None:
            row = self.db.tables[table].rows.get(u)
            if row is not None:
                r = self.create_row(table, u, row, Row(row))
        return r

    def delete(self, table: str, row: Row) -> None:
        self.order_op(table, row.uuid, False)
        r = self.txn_rows.get((table, row.uuid))
        if r is None:
            self.create_row(table, row.uuid, row, None)
        elif r.old is not None:
            r.new = None
        else:
            self.remove_row(r)

    def for_each_row(self, cb: Callable[[TxnRow], None]) -> None:
        """Visit every TxnRow once, including rows cb pulls in, in OVS's order."""
        self.serial += 1
        serial = self.serial
        if len(self.txn_rows) == 1 and len(self.tables) == 1:
            # One row, so no order to follow (the common small transaction): visit it,
            # and walk the tables only if cb pulled other rows in or dropped this one.
            t = self.tables[0]
            (r,) = self.txn_rows.values()
            edits = t.edits
            t.serial, t.n_processed, r.serial = serial, 1, serial
            cb(r)
            if t.edits == edits and len(self.tables) == 1:
                return
        any_work = True
        while any_work:
            any_work = False
            i = 0
            while i < len(self.tables):
                t = self.tables[i]
                has_next = i + 1 < len(self.tables)
                if t.serial != serial:
                    t.serial, t.n_processed = serial, 0
                while t.n_processed < len(t.rows):
                    # HMAP_FOR_EACH_SAFE: the next row is fixed before cb runs. While
                    # no row has entered or left the table, a snapshot of the order
                    # answers that; after the first edit, ask the live hash table.
                    keys = list(t.rows)
                    edits = t.edits
                    j, n = 0, len(keys)
                    u = keys[0] if n else None
                    while u is not None:
                        if t.edits == edits:
                            j += 1
                            nxt = keys[j] if j < n else None
                        else:
                            edits = -1  # stays live for the rest of this walk
                            nxt = t.rows.next_of(u)
                        r = self.txn_rows[(t.name, u)]
                        if r.serial != serial:
                            r.serial = serial
                            t.n_processed += 1
                            any_work = True
                            cb(r)
                        u = nxt
                if len(t.rows) == 0:
                    self.drop_table(t)
                    i -= 1
                if not has_next:
                    break
                i += 1

    def abort(self) -> None:
        """Undo the transaction the way OVS does, which is visible in the table's row
        order: inserted rows leave, deleted rows go back at the head of their hash
        bucket, and any growth of the hash table stays. Only the order is written to
        the database; its contents were never touched."""
        def undo(r: TxnRow) -> None:
            if r.old is None:
                if r.new is not None:
                    self.order_op(r.table, r.uuid, False)
            elif r.new is None:
                self.order_op(r.table, r.uuid, True)
        self.for_each_row(undo)
        self.keep_orders()

    def keep_orders(self) -> None:
        """Hand the row orders of touched tables to the database (see abort)."""
        for t in list(self.by_name.values()):
            dbt = self.db.tables[t.name]
            if t.ops and dbt.serial == t.base:
                dbt.reorder(t.ops)
                dbt.serial += 1
