"""The transaction engine: the ten RFC 7047 operations, as ovsdb-server 3.1 runs them.

Public API (stable; the session calls it, storage and monitors consume its changes):
    execute(db, ops_json, *, owns_lock=lambda name: False, now_ms=None,
            started_ms=None, read_only=False, db_name=None) -> TxnOutcome
        ops_json: the transact params after the database name. Never changes db's
        contents: the caller stores outcome.changes, then db.apply(outcome.changes).
        (A failed or blocked transaction does update db's row order, as in OVS.)
    TxnOutcome.result         the list for the transact reply (one slot per op; the
                              failing op holds {"error","details"[,"syntax"]}, later
                              slots null; a commit-time error is one extra element).
                              None while blocked.
              .changes        ChangeSet, or None (error, or nothing changed)
              .durable        a "commit" op asked for durable: true
              .blocked_until  None, or the deadline (ms, math.inf without timeout) of
                              an unsatisfied "wait": re-run the whole transaction after
                              each commit and once now_ms >= blocked_until (that run
                              fails with OVS's "timed out" result).
              .comment        text of "comment" ops, newline-joined (or None)
    started_ms is when the transaction first arrived (default now_ms); it measures
    "wait" timeouts. read_only marks the _Server database (writes "not allowed").

A transaction that only inserts plain rows is first offered to reference.txn.insert_fast_path,
which gives the same outcome with far less work, or declines.
"""

from __future__ import annotations

import math
import re
import time
import uuid as uuidlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Any

from reference.data.condition import Where, parse_where, split_triple
from reference.data.database import (
    ChangeSet,
    Database,
    Row,
    bad_defaults,
    in_hash_order,
    make_row,
)
from reference.data.datum import (
    MUTATORS,
    Datum,
    check_datum_constraints,
    datum_from_json,
    datum_to_json,
    mutate,
    mutation_arg_type,
)
from reference.data.errors import OvsdbError, syntax_error
from reference.data.ovs_hash import ovs_order
from reference.data.schema import TableSchema, column_order
from reference.data.types import UNLIMITED, Type
from reference.data.uuidgen import uuid4
from reference.txn.commit_checks import compare_datums, precommit
from reference.txn.insert_fast_path import execute_inserts
from reference.txn.working_state import Txn

UUID = uuidlib.UUID
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                      r"[0-9a-fA-F]{12}\Z")
_MISSING = object()
_KINDS: dict[str, Callable[[Any], bool]] = {
    "id": lambda v: isinstance(v, str) and bool(_ID.match(v)),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "boolean": lambda v: isinstance(v, bool),
    # OVS's JSON reader makes 1000.0 or 1e3 an integer, so such numbers count as one.
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, float) and v.is_integer() and -(2**63) <= v < 2**63),
}


@dataclass
class TxnOutcome:
    result: list | None
    changes: ChangeSet | None = None
    durable: bool = False
    blocked_until: float | None = None
    comment: str | None = None


class _Blocked(Exception):
    def __init__(self, deadline: float):
        self.deadline = deadline


class _Parser:
    """OVS's ovsdb_parser: member lookups record the first error, finish() reports it
    (or a member nobody asked for)."""

    __slots__ = ("j", "i", "n", "used", "error")

    def __init__(self, j: Any, i: int, n: int):
        self.j = j
        self.i, self.n = i, n
        self.used: set[str] = set()
        self.error: OvsdbError | None = None
        if not isinstance(j, dict):
            self.error = OvsdbError("syntax error", f"Parsing {self.name} failed: "
                                    "Object expected.")

    @property
    def name(self) -> str:
        return f"ovsdb operation {self.i + 1} of {self.n}"

    def fail(self, msg: str) -> None:
        if self.error is None:
            self.error = syntax_error(self.j, f"Parsing {self.name} failed: {msg}")

    def member(self, name: str, kind: str, optional: bool = False) -> Any:
        if self.error is not None:
            return None
        self.used.add(name)
        v = self.j.get(name, _MISSING)
        if v is _MISSING:
            if not optional:
                self.fail(f"Required '{name}' member is missing.")
            return None
        if not _KINDS[kind](v):
            self.fail(f"Type mismatch for member '{name}'.")
            return None
        return v

    def finish(self) -> OvsdbError | None:
        if self.error is None:
            for k in self.j:
                if k not in self.used:
                    self.fail(f"Member '{k}' is present but not allowed here.")
                    break
        return self.error


# ---------------------------------------------------------------- helpers

def _query(x: Txn, table: str, cond: Where) -> list:
    """The rows ``cond`` selects, in OVS's iteration order, as this transaction sees
    the table.  OVS scans in C; a scan in Python grows with the table, so rows are
    found through indexes whenever a clause allows it and the scan is the last resort."""
    if cond.never:
        return []
    # A clause [_uuid, ==, X] pins the row: skip the scan (a common OVN pattern).
    for c in cond.clauses:
        if c.column == "_uuid" and c.function == "==" and c.arg is not None \
                and len(c.arg.keys) == 1:
            row = x.get(table, c.arg.keys[0])
            return [row] if row is not None and cond.match(row) else []
    if not cond.clauses:
        return x.rows(table)
    # "==" on every column of a schema index pins at most one row too; the committed
    # index answers when this transaction has not touched the table yet.
    tt = x.by_name.get(table)
    touched = tt is not None and len(tt.rows) > 0
    if not touched:
        eq = {c.column: c.arg for c in cond.clauses if c.function == "=="}
        for i, cols in enumerate(x.db.schema.tables[table].indexes):
            if all(col in eq for col in cols):
                u = x.db.index_lookup(table, i, tuple(eq[col] for col in cols))
                row = None if u is None else x.get(table, u)
                return [row] if row is not None and cond.match(row) else []
    candidates = _candidates(x, table, cond)
    if candidates is None:
        return [r for r in x.rows(table) if cond.match(r)]
    if touched:
        # The value index holds committed rows: rows this transaction inserted or
        # changed may match now, and are all in its own table of rows.
        candidates = set(tt.rows).union(candidates)  # type: ignore[union-attr]
    get = x.get
    matched = {}
    for u in candidates:
        row = get(table, u)
        if row is not None and cond.match(row):
            matched[u] = row
    if len(matched) > 1:
        return [matched[u] for u in in_hash_order(x.table_order(table), matched)]
    return list(matched.values())


def _candidates(x: Txn, table: str, cond: Where) -> Collection | None:
    """Uuids of the committed rows that can match ``cond``: the smallest value-index
    bucket among its indexable clauses, or None when no clause has an index term."""
    best = None
    lookup = x.db.values.lookup
    for c in cond.clauses:
        term = c.index_term()
        if term is not None:
            bucket = lookup(table, *term)
            if best is None or len(bucket) < len(best):
                best = bucket
    return best


def _table(x: Txn, p: _Parser) -> TableSchema | None:
    name = p.member("table", "id")
    if name is None:
        return None
    ts = x.db.schema.tables.get(name)
    if ts is None:
        p.fail(f"No table named {name}.")
    return ts


def _parse_row(x: Txn, ts: TableSchema, j: dict) -> dict[str, Datum]:
    out: dict[str, Datum] = {}
    for name in ovs_order(j) if len(j) > 1 else j:
        vj = j[name]
        col = ts.columns.get(name)
        if col is None:
            raise syntax_error(j, f"No column {name} in table {ts.name}.", "unknown column")
        out[name] = datum_from_json(col.type, vj, x.symtab)
    return out


def _parse_columns(ts: TableSchema, j: list | None) -> list[str]:
    if j is None:
        return list(column_order(ts))
    out: list[str] = []
    for name in j:
        if not isinstance(name, str) or name in out:
            raise syntax_error(j, "array of distinct column names expected")
        if name not in ts.columns:
            raise syntax_error(j, f"{name} is not a valid column name")
        out.append(name)
    return out


def _row_json(ts: TableSchema, row: Row, columns: list[str]) -> dict[str, Any]:
    return {c: datum_to_json(row[c], ts.columns[c].type) for c in columns}


# ---------------------------------------------------------------- operations

def _op_insert(x: Txn, p: _Parser) -> dict:
    ts = _table(x, p)
    uuid_name = p.member("uuid-name", "id", optional=True)
    uuid_json = p.member("uuid", "string", optional=True)
    row_json = p.member("row", "object")
    if p.error or ts is None:
        return {}
    row_uuid: UUID | None = None
    if uuid_json is not None:
        if not _UUID_RE.match(uuid_json):
            raise syntax_error(uuid_json, "bad uuid")
        row_uuid = UUID(uuid_json)
        if not x.may_create(ts.name, row_uuid):
            raise syntax_error(uuid_json, "This UUID would duplicate a UUID already present "
                               "within the table or deleted within the same transaction.",
                               "duplicate uuid")
    if uuid_name is not None:
        sym = x.symtab.insert(uuid_name)
        if sym.created:
            raise syntax_error(uuid_name, 'This "uuid-name" appeared on an earlier "insert" '
                               "operation.", "duplicate uuid-name")
        if row_uuid is not None:
            sym.uuid = row_uuid
        else:
            row_uuid = sym.uuid
        sym.created = True
    elif row_uuid is None:
        row_uuid = uuid4()
    values = _parse_row(x, ts, row_json)
    values.pop("_uuid", None)
    values.pop("_version", None)
    row = make_row(ts, row_uuid, values)
    # Defaults may break constraints (an enum without "", a minInteger above 0). OVS
    # checks every column; values from the request were checked when parsed, so only
    # defaults can fail here, and the first (in OVS's column order) is the one reported.
    for name in bad_defaults(ts):
        if name not in values:
            check_datum_constraints(row[name], ts.columns[name].type)
    x.insert(ts.name, row)
    return {"uuid": ["uuid", str(row_uuid)]}


def _op_select(x: Txn, p: _Parser) -> dict:
    ts = _table(x, p)
    where = p.member("where", "array")
    columns_j = p.member("columns", "array", optional=True)
    sort_j = p.member("sort", "array", optional=True)  # an OVS extension
    if p.error or ts is None:
        return {}
    cond = parse_where(ts, where, x.symtab)
    columns = _parse_columns(ts, columns_j)
    sort = list(column_order(ts)) if sort_j is None else _parse_columns(ts, sort_j)
    # OVS answers with distinct rows (two rows equal on the selected columns are one),
    # sorted by the "sort" columns, which default to every column in its hash order.
    rows = _query(x, ts.name, cond)
    if columns_j is not None and "_uuid" not in columns:
        seen: dict[tuple, Row] = {}
        for r in rows:
            seen.setdefault(tuple(r[c] for c in columns), r)
        rows = list(seen.values())

    def cmp(a: Row, b: Row) -> int:
        for c in sort:
            k = compare_datums(a[c], b[c])
            if k:
                return k
        return 0

    rows.sort(key=cmp_to_key(cmp))
    return {"rows": [_row_json(ts, r, columns) for r in rows]}


def _op_update(x: Txn, p: _Parser) -> dict:
    ts = _table(x, p)
    where = p.member("where", "array")
    row_json = p.member("row", "object")
    if p.error or ts is None:
        return {}
    values = _parse_row(x, ts, row_json)
    for name in values:
        if not ts.columns[name].mutable:
            raise syntax_error(p.j, f"Cannot update immutable column {name} in table "
                               f"{ts.name}.", "constraint violation")
    cond = parse_where(ts, where, x.symtab)
    rows = _query(x, ts.name, cond)
    for r in rows:
        # OVS pulls a row into the transaction only if the update changes it, which
        # shows in the order it later walks the transaction's rows.
        if any(r[c] != v for c, v in values.items()):
            x.modify(ts.name, r, values)
    return {"count": len(rows)}


def _parse_mutations(x: Txn, ts: TableSchema, j: list) -> list[tuple[str, str, Datum]]:
    out = []
    for m in j:
        col, mutator, arg_j = split_triple(ts, m, "mutation")
        name = m[0]
        if not col.mutable:
            raise syntax_error(m, f"Cannot mutate immutable column {name} in table "
                               f"{ts.name}.", "constraint violation")
        if mutator not in MUTATORS:
            raise OvsdbError("unknown mutator", f"No mutator named {mutator}.")
        arg_t = mutation_arg_type(col.type, mutator)
        if arg_t is None:
            raise syntax_error(m, f'Type mismatch: "{mutator}" operator may not be applied '
                               f"to column {name} of type {col.type.to_english()}.")
        try:
            arg = datum_from_json(arg_t, arg_j, x.symtab)
        except OvsdbError:
            if mutator != "delete" or col.type.value is None:
                raise
            # A map "delete" takes either key/value pairs or a set of keys.
            keys_t = Type(col.type.key, None, 0, UNLIMITED)
            arg = datum_from_json(keys_t, arg_j, x.symtab)
        out.append((name, mutator, arg))
    return out


def _op_mutate(x: Txn, p: _Parser) -> dict:
    ts = _table(x, p)
    where = p.member("where", "array")
    mutations_j = p.member("mutations", "array")
    if p.error or ts is None:
        return {}
    mutations = _parse_mutations(x, ts, mutations_j)
    cond = parse_where(ts, where, x.symtab)
    rows = _query(x, ts.name, cond)
    for r in rows:
        values: dict[str, Datum] = {}
        for name, mutator, arg in mutations:
            cur = values.get(name, r[name])
            values[name] = mutate(cur, ts.columns[name].type, mutator, arg)
        x.modify(ts.name, r, values)
    return {"count": len(rows)}


def _op_delete(x: Txn, p: _Parser) -> dict:
    where = p.member("where", "array")  # OVS asks for "where" before "table" here
    ts = _table(x, p)
    if p.error or ts is None:
        return {}
    cond = parse_where(ts, where, x.symtab)
    rows = _query(x, ts.name, cond)
    for r in rows:
        x.delete(ts.name, r)
    return {"count": len(rows)}


def _op_wait(x: Txn, p: _Parser) -> dict:
    timeout = p.member("timeout", "integer", optional=True)
    where = p.member("where", "array")
    columns_j = p.member("columns", "array", optional=True)
    until = p.member("until", "string")
    rows_j = p.member("rows", "array")
    ts = _table(x, p)  # OVS asks for "table" last here
    if p.error or ts is None:
        return {}
    cond = parse_where(ts, where, x.symtab)
    columns = _parse_columns(ts, columns_j)
    if timeout is not None:
        timeout = int(timeout)
    if timeout is not None and timeout < 0:
        raise syntax_error(timeout, "timeout must be nonnegative")
    if until not in ("==", "!="):
        raise syntax_error(until, '"until" must be "==" or "!="')
    expected = set()
    for rj in rows_j:
        if not isinstance(rj, dict):
            raise syntax_error(rj, "row must be JSON object")
        row = make_row(ts, uuidlib.UUID(int=0), _parse_row(x, ts, rj), uuidlib.UUID(int=0))
        expected.add(tuple(row[c] for c in columns))
    actual = {tuple(r[c] for c in columns) for r in _query(x, ts.name, cond)}
    if (actual == expected) == (until == "=="):
        return {}
    if timeout == 0:
        raise OvsdbError("timed out", '"where" clause test failed')
    deadline = math.inf if timeout is None else x.started_ms + timeout
    if x.now_ms >= deadline:
        raise OvsdbError("timed out", f'"wait" timed out after '
                         f"{int(x.now_ms - x.started_ms)} ms")
    raise _Blocked(deadline)


def _op_commit(x: Txn, p: _Parser) -> dict:
    durable = p.member("durable", "boolean")
    if durable:
        x.durable = True
    return {}


def _op_abort(x: Txn, p: _Parser) -> dict:
    raise OvsdbError("aborted", "aborted by request")


def _op_comment(x: Txn, p: _Parser) -> dict:
    c = p.member("comment", "string")
    if c is not None:
        x.comments.append(c)
    return {}


def _op_assert(x: Txn, p: _Parser) -> dict:
    lock = p.member("lock", "id")
    if lock is not None and not x.owns_lock(lock):
        raise OvsdbError("not owner", f"Asserted lock {lock} not held.")
    return {}


# name -> (executor, read-only?)
OPERATIONS: dict[str, tuple[Callable[[Txn, _Parser], dict], bool]] = {
    "insert": (_op_insert, False), "select": (_op_select, True),
    "update": (_op_update, False), "mutate": (_op_mutate, False),
    "delete": (_op_delete, False), "wait": (_op_wait, True),
    "commit": (_op_commit, True), "abort": (_op_abort, True),
    "comment": (_op_comment, True), "assert": (_op_assert, True),
}


def execute(db: Database, ops_json: list, *, owns_lock: Callable[[str], bool] = lambda n: False,
            now_ms: float | None = None, started_ms: float | None = None,
            read_only: bool = False, db_name: str | None = None) -> TxnOutcome:
    if not read_only:
        fast = execute_inserts(db, ops_json)
        if fast is not None:
            return TxnOutcome(fast[0], fast[1])
    now = time.monotonic() * 1000 if now_ms is None else now_ms
    x = Txn(db, owns_lock, now, now if started_ms is None else started_ms, read_only,
            db_name or db.schema.name)
    n = len(ops_json)
    results: list[Any] = []
    failed = False
    for i, op_j in enumerate(ops_json):
        p = _Parser(op_j, i, n)
        op_name = p.member("op", "id")
        error: OvsdbError | None = None
        result: dict = {}
        if op_name is not None:
            entry = OPERATIONS.get(op_name)
            if entry is None:
                p.fail(f'No operation "{op_name}"')
            else:
                try:
                    result = entry[0](x, p)
                except _Blocked as b:
                    x.abort()
                    return TxnOutcome(None, blocked_until=b.deadline)
                except OvsdbError as e:
                    error = e
                if error is None and not entry[1] and read_only and p.error is None:
                    error = OvsdbError("not allowed", f"{op_name} operation not allowed on "
                                       f"table in reserved database {x.db_name}")
        parse_error = p.finish()  # a parse error overrides any other error
        if parse_error is not None:
            error = parse_error
        if error is not None:
            results.append(error.to_json())
            failed = True
            break
        results.append(result)
    comment = "\n".join(x.comments) or None
    if failed:
        x.abort()
        results.extend([None] * (n - len(results)))
        return TxnOutcome(results, None, x.durable, None, comment)
    try:
        changes = precommit(x)
    except OvsdbError as e:
        x.abort()
        results.append(e.to_json())
        return TxnOutcome(results, None, x.durable, None, comment)
    if changes is None:
        x.keep_orders()
    else:
        changes.comment = comment
    return TxnOutcome(results, changes, x.durable, None, comment)
