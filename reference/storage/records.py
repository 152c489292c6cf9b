"""The OVSDB file's transaction records: a change set as a record, a record replayed
into the database, and the whole database as one record (a compaction snapshot).

These sit above the transaction layer: replaying a record runs the commit checks
(garbage collection, weak references) as ovsdb-server does when it reads its file.

Public API:
    changes_to_file_record(changes, schema, date_ms=None) -> dict | None
          the record ovsdb-server 3.1 appends to a standalone file ("_is_diff": true:
          inserted rows carry their non-default columns, modified rows carry the
          update2 diff of the changed columns, deleted rows null; never _uuid,
          _version or ephemeral columns). None when nothing persistent changed.
    apply_file_record(db, record) -> ChangeSet   replays one record (diff records and
          the older full-value records both) through the commit checks, as
          ovsdb-server does when it reads its file, and applies it to db.
    file_record_changes(db, record) -> ChangeSet   the same change, not applied.
    database_to_file_record(db, comment=None, date_ms=None) -> dict   a snapshot.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

from reference.data.database import ChangeSet, Database, make_row
from reference.data.datum import (
    Datum,
    apply_diff,
    datum_from_json,
    datum_to_json,
    default_datum,
    diff,
)
from reference.data.errors import OvsdbError
from reference.data.ovs_hash import ovs_order
from reference.data.schema import DatabaseSchema, TableSchema, per_table
from reference.data.types import UNLIMITED, Type
from reference.txn.commit_checks import precommit
from reference.txn.working_state import Txn


def _now_ms() -> int:
    return int(time.time() * 1000)


def _atoms_as_is(d: Datum) -> Any:
    # datum_to_json for a set of strings, integers or booleans (atoms written as is)
    return d.keys[0] if len(d.keys) == 1 else ["set", list(d.keys)]


@per_table
def _persistent(ts: TableSchema) -> tuple[tuple[str, Type, Datum, Callable], ...]:
    """(name, type, default, Datum -> JSON) of the columns a file record holds."""
    out = []
    for n, c in ts.user_columns.items():
        if c.ephemeral:
            continue
        t = c.type
        plain = t.value is None and t.key.type in ("string", "integer", "boolean")
        out.append((n, t, default_datum(t),
                    _atoms_as_is if plain else lambda d, t=t: datum_to_json(d, t)))
    return tuple(out)


def changes_to_file_record(changes: ChangeSet, schema: DatabaseSchema,
                           date_ms: int | None = None) -> dict[str, Any] | None:
    record: dict[str, Any] = {}
    for tname, rows in changes.tables.items():
        persistent = _persistent(schema.tables[tname])
        out: dict[str, Any] = {}
        for u, ch in rows.items():
            new, old = ch.new, ch.old
            if new is None:
                if old is not None:
                    out[ch.text or str(u)] = None
                continue
            cols: dict[str, Any] = {}
            if old is None:
                for name, _, default, to_json in persistent:
                    nd = new[name]
                    # make_row leaves unset columns holding the default object itself;
                    # a column holds atoms of one type, so comparing them is enough
                    if nd is not default and (nd.keys != default.keys or
                                              nd.values != default.values):
                        cols[name] = to_json(nd)
            else:
                for name, ctype, _, _ in persistent:
                    nd = new[name]
                    if nd != old[name]:
                        cols[name] = datum_to_json(diff(old[name], nd, ctype), ctype)
                if not cols:
                    continue
            out[ch.text or str(u)] = cols
        if out:
            record[tname] = out
    if not record:
        return None
    date = date_ms if date_ms is not None else changes.date_ms
    record["_date"] = date if date is not None else _now_ms()
    if changes.comment:
        record["_comment"] = changes.comment
    record["_is_diff"] = True
    return _ovs_ordered(record)


def _ovs_ordered(record: dict[str, Any]) -> dict[str, Any]:
    """Members (and rows) in the order OVS's writer walks its hash tables, so that a
    reader that replays in hash order (ovsdb-server, or apply_file_record) sees the
    same order as for a file ovsdb-server wrote."""
    out: dict[str, Any] = {}
    for k in ovs_order(record):
        v = record[k]
        out[k] = {u: v[u] for u in ovs_order(v)} if type(v) is dict and len(v) > 1 else v
    return out


@functools.lru_cache(maxsize=None)
def _diff_type(t: Type) -> Type:
    return replace(t, n_min=0, n_max=UNLIMITED) if t.is_composite else t


def apply_file_record(db: Database, record: dict[str, Any]) -> ChangeSet:
    """Replay one transaction record into db, as ovsdb-server does when it reads its
    file. Returns the ChangeSet applied (empty if nothing changed)."""
    changes = file_record_changes(db, record)
    db.apply(changes)
    return changes


def file_record_changes(db: Database, record: dict[str, Any]) -> ChangeSet:
    """The change one transaction record makes to db, not applied: the rows become a
    transaction (tables and rows taken in OVS's JSON-object order) that passes the
    commit checks (garbage collection, weak references).  A clustered member applies
    what other members committed this way, through its monitors."""
    is_diff = bool(record.get("_is_diff"))
    x = Txn(db, lambda name: False, 0, 0, False, db.schema.name)
    for tname in ovs_order(record):  # every member counts for the hash-table layout
        if tname.startswith("_"):
            continue
        rows = record[tname]
        ts = db.schema.tables.get(tname)
        if ts is None or not isinstance(rows, dict):
            raise OvsdbError("syntax error", f"No table named {tname}.")
        for us in ovs_order(rows):
            rj = rows[us]
            # A damaged file must be refused with an OVSDB error, never a traceback.
            try:
                u = UUID(us)
            except ValueError:
                raise OvsdbError("syntax error", f'"{us}" is not a valid UUID') from None
            if rj is not None and not isinstance(rj, dict):
                raise OvsdbError("syntax error", f"row {us} of table {tname}: object expected")
            old = x.get(tname, u)
            if rj is None:
                if old is None:
                    raise OvsdbError("syntax error", f"transaction deletes row {us} "
                                     "that does not exist")
                x.delete(tname, old)
                continue
            values: dict[str, Datum] = {}
            for cname, cj in rj.items():
                col = ts.columns.get(cname)
                if col is None:
                    raise OvsdbError("syntax error", f"No column {cname} in table {tname}.")
                if cname == "_uuid":
                    continue
                if is_diff and old is not None and cname != "_version":
                    # A set's or map's diff names every element added or removed, so
                    # it may hold more than the column's maximum (ovsdb-server reads
                    # diffs with the limits lifted); apply_diff checks the result.
                    d = apply_diff(old[cname], datum_from_json(_diff_type(col.type), cj),
                                   col.type)
                else:
                    d = datum_from_json(col.type, cj)
                values[cname] = d
            if old is None:
                version = values.pop("_version", None)
                x.insert(tname, make_row(ts, u, values, version.keys[0] if version else None))
            else:
                x.modify(tname, old, values)
    changes = precommit(x) or ChangeSet()
    changes.comment = record.get("_comment")
    changes.date_ms = record.get("_date")
    return changes


def database_to_file_record(db: Database, comment: str | None = None,
                            date_ms: int | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for tname, t in db.tables.items():
        out: dict[str, Any] = {}
        cols = _persistent(t.schema)
        for u, row in t.rows.items():
            out[str(u)] = {n: to_json(row[n]) for n, _, default, to_json in cols
                           if row[n] != default}
        if out:
            record[tname] = out
    record["_date"] = date_ms if date_ms is not None else _now_ms()
    if comment:
        record["_comment"] = comment
    return _ovs_ordered(record)
