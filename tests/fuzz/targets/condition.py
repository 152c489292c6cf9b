"""Conditions on their own: a transact ``where`` or a monitor condition for a table
parses or raises OvsdbError; a select finds, through its indexes, exactly the rows a
scan with the parsed condition finds; a monitor condition's index terms cover every row
it matches, and its normal form does not depend on the order of its clauses."""

from __future__ import annotations

from reference.data.condition import parse_monitor_condition, parse_where
from reference.data.errors import OvsdbError
from reference.txn.engine import execute
from tests.fuzz.dbstate import fresh_database
from tests.fuzz.mutate import load

STRUCTURED = True


def _transact(db, table: str, where) -> None:
    try:
        cond = parse_where(db.schema.tables[table], where)
    except OvsdbError:
        return
    scanned = {str(u) for u, row in db.tables[table].rows.items() if cond.match(row)}
    [result] = execute(db, [{"op": "select", "table": table, "where": where,
                             "columns": ["_uuid"]}], now_ms=0, started_ms=0).result
    if "error" in result:
        raise AssertionError(f"select refused a where that parses: {result}")
    found = {r["_uuid"][1] for r in result["rows"]}
    if found != scanned:
        raise AssertionError(f"select found {sorted(found)}, a scan {sorted(scanned)}")


def _monitor(db, table: str, where) -> None:
    ts = db.schema.tables[table]
    try:
        cond = parse_monitor_condition(ts, where)
    except OvsdbError:
        return
    if isinstance(where, list) and parse_monitor_condition(ts, where[::-1]).key != cond.key:
        raise AssertionError("the normal form depends on the clauses' order")
    terms = None if cond.always else cond.index_terms()
    for row in db.tables[table].rows.values():
        if terms is None or not cond.match(row):
            continue
        if not any(_covers(row[col], fn, key) for col, fn, key in terms):
            raise AssertionError(f"a row matches but no index term {terms} covers it")


def _covers(cell, function: str, key) -> bool:
    if function == "==":
        return cell == key
    if cell.values is None:
        return key in cell.keys
    return key in zip(cell.keys, cell.values, strict=True)


def one_input(data: bytes) -> None:
    case = load(data, dict)
    if case is None:
        return
    db = fresh_database()
    table = case.get("table")
    if not isinstance(table, str) or table not in db.schema.tables:
        table = "Root"
    (_monitor if case.get("monitor") else _transact)(db, table, case.get("where"))
