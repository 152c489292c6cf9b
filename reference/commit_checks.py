"""Commit-time checks of a transaction, in ovsdb-server 3.1's order (its
ovsdb_txn_precommit): drop rows with no real change; strong references (dangling
references, deleting a still-referenced row); garbage collection of unreferenced
non-root rows, cascading; maxRows; weak references removed (which may break "min");
index uniqueness; a fresh _version for every inserted or modified row.

precommit(txn) -> ChangeSet | None   (raises OvsdbError with OVS's details text)

Self-references do not count as references. OVS31_WEAK_REF_QUIRK (default on)
reproduces a 3.1 quirk in weak-reference removal (documented below). Where OVS orders two rows in an index
error by comparing all columns in its hash-table order, we order by _uuid; everything
else in the message is OVS's.
"""

from __future__ import annotations

import uuid as uuidlib
from typing import TYPE_CHECKING

from reference.datum import Datum, datum_to_string
from reference.db import ChangeSet, Row, RowChange, ref_columns
from reference.errors import OvsdbError
from reference.schema import TableSchema

if TYPE_CHECKING:
    from reference.txn import Txn

UUID = uuidlib.UUID
Key = tuple[str, UUID]

# Match ovsdb-server 3.1, which leaves a weak reference dangling when the referring
# row is itself modified in the transaction that deletes the referenced row (see
# assess_weak_refs). Set to False for the integrity-preserving behaviour.
OVS31_WEAK_REF_QUIRK = True


def _english(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _strong_targets(ts: TableSchema, row: Row, column: str | None = None) -> list[Key]:
    out: list[Key] = []
    me = row.uuid
    for name, kt, ks, vt, vs in ref_columns(ts):
        if column is not None and name != column:
            continue
        d = row[name]
        if kt and ks:
            out.extend((kt, u) for u in d.keys if not (u == me and kt == ts.name))
        if vt and vs and d.values is not None:
            out.extend((vt, u) for u in d.values if not (u == me and vt == ts.name))
    return out


class _Commit:
    def __init__(self, x: Txn):
        self.x = x
        self.db = x.db
        self.schema = x.db.schema
        # (table, uuid) -> [old, new]; insertion order is the order rows were touched
        self.changed: dict[Key, list] = {}
        self.delta: dict[UUID, int] = {}

    def cur(self, table: str, u: UUID) -> Row | None:
        ch = self.changed.get((table, u))
        if ch is not None:
            return ch[1]
        return self.x.get(table, u)

    def refcount(self, u: UUID) -> int:
        return self.db.strong_refs(u) + self.delta.get(u, 0)

    # 0: rows with a real change
    def determine_changes(self) -> None:
        for t, olds in self.x.old.items():
            news = self.x.new[t]
            for u, old in olds.items():
                new = news[u]
                if old is None and new is None:
                    continue
                if old is not None and new is not None and all(
                        old[c] == new[c] for c in old if c != "_version"):
                    continue
                self.changed[(t, u)] = [old, new]

    # 1: strong references
    def update_ref_counts(self) -> None:
        for (t, u), (old, new) in list(self.changed.items()):
            ts = self.schema.tables[t]
            for name, kt, ks, vt, vs in ref_columns(ts):
                if not ((kt and ks) or (vt and vs)):
                    continue
                if old is not None and new is not None and old[name] == new[name]:
                    continue
                if old is not None:
                    for _, target in _strong_targets(ts, old, name):
                        self.delta[target] = self.delta.get(target, 0) - 1
                if new is not None:
                    for rt, target in _strong_targets(ts, new, name):
                        if self.cur(rt, target) is None:
                            raise OvsdbError(
                                "referential integrity violation",
                                f"Table {t} column {name} row {u} references nonexistent "
                                f"row {target} in table {rt}.")
                        self.delta[target] = self.delta.get(target, 0) + 1
        for (t, u), (old, new) in self.changed.items():
            if new is None and old is not None:
                n = self.refcount(u)
                if n > 0:
                    raise OvsdbError("referential integrity violation",
                                     f"cannot delete {t} row {u} because of {n} remaining "
                                     "reference(s)")

    # 2: garbage collection
    def collect_garbage(self) -> None:
        candidates: dict[Key, None] = {k: None for k, ch in self.changed.items()
                                       if ch[1] is not None}
        for (t, _u), (old, _new) in self.changed.items():
            ts = self.schema.tables[t]
            if old is not None:
                for k in _strong_targets(ts, old):
                    candidates.setdefault(k, None)
        while True:
            progress = False
            for key in list(candidates):
                t, u = key
                if self.schema.tables[t].is_root:
                    continue
                row = self.cur(t, u)
                if row is None or self.refcount(u) > 0:
                    continue
                progress = True
                ch = self.changed.get(key)
                if ch is None:
                    self.changed[key] = [self.db.get_row(t, u), None]
                elif ch[0] is None:
                    del self.changed[key]  # inserted and collected: never existed
                else:
                    ch[1] = None
                for k in _strong_targets(self.schema.tables[t], row):
                    self.delta[k[1]] = self.delta.get(k[1], 0) - 1
                    candidates.setdefault(k, None)
            if not progress:
                return

    # 3: maxRows
    def check_max_rows(self) -> None:
        net: dict[str, int] = {}
        for (t, _), (old, new) in self.changed.items():
            net[t] = net.get(t, 0) + (new is not None) - (old is not None)
        for t, d in net.items():
            limit = self.schema.tables[t].max_rows
            n = len(self.db.tables[t].rows) + d
            if limit is not None and n > limit:
                raise OvsdbError("constraint violation",
                                 f'transaction causes "{t}" table to contain {n} rows, '
                                 f"greater than the schema-defined limit of {limit} row(s)")

    # 4: weak references
    def assess_weak_refs(self) -> None:
        todo: dict[Key, None] = {}
        for key, (old, new) in self.changed.items():
            if new is not None:
                todo[key] = None
            elif old is not None:
                for src in self.db.weak_referrers(key[1]):
                    todo.setdefault(src, None)
        for key in todo:
            t, u = key
            row = self.cur(t, u)
            if row is None:
                continue
            ts = self.schema.tables[t]
            ch0 = self.changed.get(key)
            inserted = ch0 is not None and ch0[0] is None
            # OVS 3.1 reassesses a row that the transaction itself modified only for the
            # weak references it added; references it already held to rows deleted in
            # the same transaction stay (dangling). Rows pulled in because a row they
            # point to was deleted are reassessed in full.
            prior = ch0[0] if (OVS31_WEAK_REF_QUIRK and ch0 is not None) else None
            updates: dict[str, Datum] = {}
            for name, kt, ks, vt, vs in ref_columns(ts):
                weak_k = kt is not None and not ks
                weak_v = vt is not None and not vs
                if not (weak_k or weak_v):
                    continue
                d = row[name]
                held = set()
                if prior is not None:
                    p = prior[name]
                    held = set(zip(p.keys, p.values or (None,) * len(p.keys), strict=True))
                keep_k, keep_v, removed = [], [], []
                for i, k in enumerate(d.keys):
                    v = d.values[i] if d.values is not None else None
                    if (k, v) in held:
                        keep_k.append(k)
                        keep_v.append(v)
                    elif weak_k and self.cur(kt, k) is None:
                        removed.append(k)
                    elif weak_v and self.cur(vt, v) is None:
                        removed.append(v)
                    else:
                        keep_k.append(k)
                        keep_v.append(v)
                if not removed:
                    continue
                col = ts.columns[name]
                where = f"row {u}" + (" (inserted within this transaction)" if inserted else "")
                if len(keep_k) < col.type.n_min:
                    zero = UUID(int=0)
                    if all(r == zero for r in removed):
                        msg = (f'Weak reference column "{name}" in "{t}" {where} contained '
                               "all-zeros UUID (probably as the default value for this "
                               "column) but deleting this value caused a constraint "
                               "volation because this column is not allowed to be empty.")
                    else:
                        msg = (f"Deletion of {len(removed)} weak reference(s) to deleted (or "
                               f'never-existing) rows from column "{name}" in "{t}" {where} '
                               "caused this column to become empty, but constraints on this "
                               "column disallow an empty column.")
                    raise OvsdbError("constraint violation", msg)
                updates[name] = Datum(tuple(keep_k),
                                      tuple(keep_v) if d.values is not None else None)
            if updates:
                nrow = Row(row)
                nrow.update(updates)
                ch = self.changed.get(key)
                if ch is None:
                    self.changed[key] = [self.db.get_row(t, u), nrow]
                else:
                    ch[1] = nrow

    # 5: index uniqueness
    def _describe(self, t: str, u: UUID, cols: tuple[str, ...]) -> str:
        ch = self.changed.get((t, u))
        if ch is None:
            return ("existed in the database before this transaction and was not modified "
                    "by the transaction.")
        old, new = ch
        if old is None:
            return "was inserted by this transaction."
        if all(old[c] == new[c] for c in cols):
            return ("existed in the database before this transaction, which modified some "
                    "of the row's columns but not any columns in this index.")
        return ("had the following index values before the transaction: "
                + self._values(t, old, cols) + ".")

    def _values(self, t: str, row: Row, cols: tuple[str, ...]) -> str:
        ts = self.schema.tables[t]
        return _english([datum_to_string(row[c], ts.columns[c].type) for c in cols])

    def _dup(self, t: str, cols: tuple[str, ...], a: Row, b: Row) -> OvsdbError:
        if a.uuid > b.uuid:
            a, b = b, a
        idx = (f'column "{cols[0]}"' if len(cols) == 1
               else "columns " + _english([f'"{c}"' for c in cols]))
        return OvsdbError(
            "constraint violation",
            f'Transaction causes multiple rows in "{t}" table to have identical values '
            f"({self._values(t, b, cols)}) for index on {idx}.  "
            f"First row, with UUID {a.uuid}, {self._describe(t, a.uuid, cols)}  "
            f"Second row, with UUID {b.uuid}, {self._describe(t, b.uuid, cols)}")

    def check_index_uniqueness(self) -> None:
        seen: dict[tuple[str, int, tuple], Row] = {}
        for (t, u), (_, new) in self.changed.items():
            if new is None:
                continue
            ts = self.schema.tables[t]
            for i, cols in enumerate(ts.indexes):
                key = tuple(new[c] for c in cols)
                other = seen.get((t, i, key))
                if other is not None:
                    raise self._dup(t, cols, other, new)
                u2 = self.db.index_lookup(t, i, key)
                if u2 is not None and u2 != u and (t, u2) not in self.changed:
                    raise self._dup(t, cols, self.db.get_row(t, u2), new)
                seen[(t, i, key)] = new

    # 6: _version
    def change_set(self) -> ChangeSet | None:
        cs = ChangeSet()
        for (t, u), (old, new) in self.changed.items():
            if new is not None:
                new = Row(new)
                new["_version"] = Datum((uuidlib.uuid4(),))
            cs.tables.setdefault(t, {})[u] = RowChange(old, new)
        return None if cs.is_empty() else cs


def precommit(x: Txn) -> ChangeSet | None:
    c = _Commit(x)
    c.determine_changes()
    if not c.changed:
        return None
    c.update_ref_counts()
    c.collect_garbage()
    c.check_max_rows()
    c.assess_weak_refs()
    c.check_index_uniqueness()
    return c.change_set()
