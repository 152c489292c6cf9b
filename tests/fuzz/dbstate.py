"""The test database the transaction, condition, record and core targets work on: the
differential tests' schema (tests/reference/schemas/crucible.ovsschema) with a few rows
of every table, and the invariants that compare databases."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson

from reference.data.database import ChangeSet, Database
from reference.data.datum import datum_to_json
from reference.data.errors import OvsdbError
from reference.data.schema import DatabaseSchema, parse_schema
from reference.storage.records import (
    apply_file_record,
    changes_to_file_record,
    database_to_file_record,
)

SCHEMA_PATH = Path(__file__).parent.parent / "reference" / "schemas" / "crucible.ovsschema"
SCHEMA_JSON = orjson.loads(SCHEMA_PATH.read_bytes())
DB = SCHEMA_JSON["name"]

U_ROOT = "00000000-0000-4000-8000-00000000000a"
U_CHILD = "00000000-0000-4000-8000-00000000000b"
U_LEAF = "00000000-0000-4000-8000-00000000000c"
# Rows in every table, references of every kind between them: a committed database.
SEED_RECORD = {
    "Leaf": {U_LEAF: {"tag": "l1", "weight": 3}},
    "Child": {U_CHILD: {"name": "kid", "value": 1, "leaf": ["uuid", U_LEAF],
                        "owner": ["uuid", U_ROOT]}},
    "Root": {U_ROOT: {"name": "keep", "i": 5, "s": "abc", "iset": ["set", [1, 2]],
                      "smap": ["map", [["a", "b"]]], "children": ["uuid", U_CHILD],
                      "leaf": ["uuid", U_LEAF], "peers": ["uuid", U_ROOT],
                      "frozen": 7, "rset": 1.5},
             "00000000-0000-4000-8000-00000000000d": {"name": "other", "i": -3,
                                                      "rset": ["set", [2.5, 3.5]]}},
    "Capped": {"00000000-0000-4000-8000-00000000000e": {"k": 1}},
    "Pair": {"00000000-0000-4000-8000-00000000000f": {"a": "p", "b": 1}},
}


@functools.cache
def schema() -> DatabaseSchema:
    return parse_schema(SCHEMA_JSON)


def fresh_database() -> Database:
    db = Database(schema())
    apply_file_record(db, SEED_RECORD)
    return db


def contents(db: Database) -> dict[str, dict[str, dict[str, Any]]]:
    """Every row of every table, every column (ephemeral and _version included), as
    JSON: equal exactly when the databases hold the same data."""
    out = {}
    for tname, t in db.tables.items():
        cols = t.schema.columns
        out[tname] = {str(u): {c: datum_to_json(row[c], cols[c].type) for c in cols}
                      for u, row in t.rows.items()}
    return out


def durable_contents(db: Database, raw: bool = False) -> dict[str, Any]:
    """What a file record of the whole database holds (no ephemeral columns, no
    _version, no date), less weak references to rows that do not exist: a set column
    keeps them after a commit (ovsdb-server 3.1's quirk, copied: see
    reference/txn/commit_checks.py) and loses them when the file is read back."""
    record = database_to_file_record(db, date_ms=0)
    if raw:
        return {t: rows for t, rows in record.items() if not t.startswith("_")}
    rows = {u for t in db.tables.values() for u in map(str, t.rows)}

    def live(v: Any) -> bool:
        return not (isinstance(v, list) and v[:1] == ["uuid"] and v[1] not in rows)

    def clean(cell: Any) -> Any:
        if isinstance(cell, list) and cell[:1] == ["set"]:
            kept = [v for v in cell[1] if live(v)]
            return kept[0] if len(kept) == 1 else ["set", kept]
        if isinstance(cell, list) and cell[:1] == ["map"]:
            return ["map", [kv for kv in cell[1] if live(kv[0]) and live(kv[1])]]
        return cell if live(cell) else ["set", []]

    return {t: {u: {c: clean(v) for c, v in row.items() if clean(v) not in (
        ["set", []], ["map", []])} for u, row in trows.items()}
            for t, trows in record.items() if not t.startswith("_")}


def has_dangling(db: Database) -> bool:
    """Whether a set column holds a weak reference to a row that does not exist.  Then
    reading the database back may fail: the reference goes, and a column whose minimum
    is 1 ends up empty (found by the core target; see tests/fuzz/README.md)."""
    return durable_contents(db, raw=True) != durable_contents(db)


def reloaded(db: Database) -> Database:
    """``db`` written as one file record and read back, as a server restart does."""
    out = Database(db.schema)
    apply_file_record(out, database_to_file_record(db, date_ms=0))
    return out


def check_commit(before: Database, after: Database, changes: ChangeSet) -> None:
    """A committed change leaves a database that passes its own checks: read back from a
    full file record (commit checks included) it is the same, and the change's diff
    record replayed on the old contents gives the new ones."""
    if not check_reload(after):
        return
    record = changes_to_file_record(changes, after.schema, date_ms=0)
    if record is not None:
        apply_file_record(before, record)
    if durable_contents(before) != durable_contents(after):
        raise AssertionError(f"the change's file record {record!r} replays to another "
                             "database than the commit made")


def check_reload(db: Database) -> bool:
    """Raises if ``db`` read back from a full file record differs or is refused; False
    (nothing checked) for the known case of has_dangling."""
    try:
        back = reloaded(db)
    except OvsdbError:
        if has_dangling(db):
            return False
        raise
    if durable_contents(back) != durable_contents(db):
        raise AssertionError("reloading the database from its file record changed it")
    return True


def check_unchanged(before: dict, db: Database, what: str) -> None:
    if contents(db) != before:
        raise AssertionError(f"{what} changed the database")
