"""The commonest write, a transaction that only inserts plain rows, run without the
general engine.

The general engine (txn.py, txn_state.py, commit_checks.py) walks a transaction's rows
in ovsdb-server's hash-table orders, pass after pass, because when a transaction fails
that order decides which error is reported. A transaction that cannot fail has no such
error to choose, and most of those passes have nothing to do for rows that reference
nothing. So this module takes exactly the transactions it can show will commit:

- every operation is {"op": "insert", "table": T, "row": {...}} and nothing more (no
  "uuid", no "uuid-name");
- T is a root table whose defaults meet their constraints and whose reference columns
  may be empty;
- every column in the row exists, is not "_uuid"/"_version", and its value parses and
  meets its constraints (named-uuid values do not parse here); reference columns are
  left empty, so there is nothing to count, collect or check;
- no index gets a duplicate (against the table or within the transaction), and no
  maxRows limit is passed.

For those it builds the same result and change set the general engine would, in the same
order (tables as first inserted into, rows in their hash order) and drawing the same
UUIDs in the same sequence; for anything else it answers None, having drawn no UUID and
changed nothing, and the caller runs the general engine. tests/reference/test_txn_inserts.py
holds the two to the same outcome.
"""

from __future__ import annotations

from typing import NamedTuple

from reference.data.database import (
    ChangeSet,
    Database,
    Row,
    RowChange,
    bad_defaults,
    default_row,
    ref_columns,
    replay_order,
)
from reference.data.datum import Datum, datum_from_json
from reference.data.errors import OvsdbError
from reference.data.ovs_hash import OvsHmap
from reference.data.schema import TableSchema, per_table
from reference.data.types import INT64_MAX, INT64_MIN, Type
from reference.data.uuidgen import uuid4

# The Python type of the JSON values an unconstrained scalar column of these types takes
# as they are (ASCII text needs no UTF-8 check, integers a range check); anything else
# goes through datum_from_json.
_AS_IS: dict[str, type] = {"string": str, "integer": int, "boolean": bool}


class _Plan(NamedTuple):
    """How plain inserts into one table are parsed."""

    columns: dict[str, tuple[type | None, Type]]  # settable column -> (as-is type, type)
    refs: frozenset[str]  # the columns that hold references
    defaults: dict[str, Datum]  # every column's default


@per_table
def _insertable(ts: TableSchema) -> _Plan | None:
    """The plan for plain inserts into ts, or None if every insert there needs the
    general engine's commit checks (a row nothing references yet is garbage in a
    non-root table; a reference column that may not be empty must be checked)."""
    if not ts.is_root or bad_defaults(ts):
        return None
    refs = frozenset(c[0] for c in ref_columns(ts))
    if any(ts.columns[name].type.n_min > 0 for name in refs):
        return None
    columns = {}
    for name, c in ts.user_columns.items():
        t = c.type
        scalar = t.value is None and t.n_min == 1 and t.n_max == 1 and \
            not t.key.has_constraints()
        columns[name] = (_AS_IS.get(t.key.type) if scalar else None, t)
    return _Plan(columns, refs, default_row(ts))


def execute_inserts(db: Database, ops: list) -> tuple[list, ChangeSet] | None:
    """(result, change set) of a transaction the fast path can take, else None."""
    schema_tables = db.schema.tables
    parsed: list[tuple[TableSchema, Row]] = []
    for op in ops:
        if type(op) is not dict or len(op) != 3 or op.get("op") != "insert":
            return None
        tname, row_j = op.get("table"), op.get("row")
        ts = schema_tables.get(tname) if type(tname) is str else None
        if ts is None or type(row_j) is not dict:
            return None
        plan = _insertable(ts)
        if plan is None:
            return None
        columns = plan.columns
        row = Row(plan.defaults)  # every column, defaults where the op says nothing
        for name, vj in row_j.items():
            column = columns.get(name)
            if column is None:
                return None
            as_is, t = column
            tj = type(vj)
            if tj is as_is and (tj is bool or (vj.isascii() if tj is str else
                                                INT64_MIN <= vj <= INT64_MAX)):
                row[name] = Datum((vj,))
                continue
            try:
                d = row[name] = datum_from_json(t, vj)
            except OvsdbError:
                return None
            if d.keys and name in plan.refs:
                return None  # a reference: the general engine checks it
        parsed.append((ts, row))
    if not parsed or not _fits(db, parsed):
        return None
    # Nothing can fail now: draw UUIDs (row, then version, op by op, as make_row does
    # for the general engine).
    result = []
    tables: dict[str, dict] = {}
    for ts, row in parsed:
        u = uuid4()
        row["_uuid"] = Datum((u,))
        row["_version"] = Datum((uuid4(),))
        text = str(u)
        tables.setdefault(ts.name, {})[u] = RowChange(None, row, text)
        result.append({"uuid": ["uuid", text]})
    orders = {}
    for tname, rows in tables.items():
        ops = [(True, u) for u in rows]
        orders[tname] = (db.tables[tname].serial, ops)
        if len(rows) > 1:  # the transaction's rows, in their hash order
            tables[tname] = {u: rows[u] for u in replay_order(OvsHmap(), ops)}
    return result, ChangeSet(tables, orders=orders)


def _fits(db: Database, parsed: list[tuple[TableSchema, Row]]) -> bool:
    """No index duplicate and no maxRows overflow once the rows are in."""
    if len(parsed) == 1:  # the commonest case: nothing to compare within the transaction
        ts, row = parsed[0]
        t = db.tables[ts.name]
        for index, key_of in t.keyed:
            if key_of(row) in index:
                return False
        return ts.max_rows is None or len(t.rows) < ts.max_rows
    seen: set[tuple[str, int, tuple]] = set()
    added: dict[str, int] = {}
    for ts, row in parsed:
        added[ts.name] = added.get(ts.name, 0) + 1
        for i, (index, key_of) in enumerate(db.tables[ts.name].keyed):
            key = key_of(row)
            if key in index or (ts.name, i, key) in seen:
                return False
            seen.add((ts.name, i, key))
    for tname, n in added.items():
        limit = db.schema.tables[tname].max_rows
        if limit is not None and len(db.tables[tname].rows) + n > limit:
            return False
    return True
