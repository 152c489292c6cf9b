"""Value indexes (reference/data/value_index.py) serve transact ``where`` clauses: the
rows, results, errors and change sets must be exactly those of a scan of the table, for
random clauses over a table that keeps changing (inside the transaction too)."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import pytest

from reference.data.database import Database, in_hash_order
from reference.data.ovs_hash import OvsHmap, uuid_hash
from reference.data.schema import parse_schema
from reference.data.value_index import ValueIndex
from reference.txn import engine
from reference.txn.engine import execute

SCHEMA = parse_schema(json.loads(
    (Path(__file__).parent / "schemas" / "crucible.ovsschema").read_text()))
NAMES = [f"n{i}" for i in range(40)]
STRINGS = ["", "a", "b", "cc"]
INTS = [-1, 0, 1, 2, 7]


def _value(rng: random.Random, column: str):
    """A JSON value for a Root column, from pools small enough that clauses match."""
    if column == "name":
        return rng.choice(NAMES)
    if column == "i":
        return rng.choice(INTS)
    if column == "b":
        return rng.random() < 0.5
    if column == "s":
        return rng.choice(STRINGS)
    if column == "color":
        return ["set", rng.sample(["red", "green"], rng.randint(0, 1))]
    if column == "opt_i":
        return ["set", rng.sample(INTS, rng.randint(0, 1))]
    if column == "iset":
        return ["set", rng.sample(INTS, rng.randint(0, 3))]
    if column == "sset":
        return ["set", rng.sample(STRINGS, rng.randint(0, 3))]
    assert column == "smap"
    keys = rng.sample(["k", "l", "m"], rng.randint(0, 2))
    return ["map", [[k, rng.choice(STRINGS)] for k in keys]]


COLUMNS = ["name", "i", "b", "s", "color", "opt_i", "iset", "sset", "smap"]
SETS = ["color", "opt_i", "iset", "sset", "smap"]


def _clause(rng: random.Random) -> list | bool:
    if rng.random() < 0.03:
        return rng.random() < 0.5
    column = rng.choice(COLUMNS)
    if column in SETS:
        function = rng.choice(["==", "includes", "includes", "excludes", "!="])
    elif column == "i":
        function = rng.choice(["==", "==", "includes", "!=", "<", ">="])
    else:
        function = rng.choice(["==", "==", "includes", "!=", "excludes"])
    if function in ("<", ">="):
        return [column, function, rng.choice(INTS)]
    return [column, function, _value(rng, column)]


def _where(rng: random.Random) -> list:
    return [_clause(rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))]


def _op(rng: random.Random, n: int) -> dict:
    kind = rng.choice(["insert", "insert", "update", "delete", "mutate", "select"])
    if kind == "insert":
        row = {c: _value(rng, c) for c in rng.sample(COLUMNS, 4)}
        return {"op": "insert", "table": "Root", "row": row,
                "uuid": str(uuid.UUID(int=rng.getrandbits(128)))}
    if kind == "update":
        row = {c: _value(rng, c) for c in rng.sample(COLUMNS[1:], 2)}
        return {"op": "update", "table": "Root", "where": _where(rng), "row": row}
    if kind == "delete":
        return {"op": "delete", "table": "Root", "where": _where(rng)}
    if kind == "mutate":
        mutation = rng.choice([["iset", "insert", ["set", [rng.choice(INTS)]]],
                               ["iset", "delete", rng.choice(INTS)],
                               ["i", "+=", 1],
                               ["smap", "insert", ["map", [["m", rng.choice(STRINGS)]]]]])
        return {"op": "mutate", "table": "Root", "where": _where(rng),
                "mutations": [mutation]}
    return {"op": "select", "table": "Root", "where": _where(rng),
            "columns": ["_uuid", "name", "i", "iset"]}


def _run(db: Database, ops: list, scan: bool):
    saved = engine._candidates
    if scan:
        engine._candidates = lambda x, table, cond: None  # every where scans the table
    try:
        out = execute(db, ops)
    finally:
        engine._candidates = saved
    changes = None
    if out.changes is not None:
        changes = [(t, u, ch.new is None) for t, u, ch in out.changes.rows()]
        db.apply(out.changes)
    return out.result, changes


def _contents(db: Database) -> list:
    return [(u, {c: d for c, d in row.items() if c != "_version"})
            for u, row in ((u, db.tables["Root"].rows[u]) for u in db.tables["Root"].order)]


@pytest.mark.parametrize("seed", range(12))
def test_index_served_where_equals_the_scan_under_churn(seed):
    rng = random.Random(seed)
    indexed, scanned = Database(SCHEMA), Database(SCHEMA)
    for step in range(150):
        ops = [_op(rng, step) for _ in range(rng.randint(1, 4))]
        got = _run(indexed, ops, scan=False)
        want = _run(scanned, ops, scan=True)
        assert got == want, (seed, step, ops)
        assert _contents(indexed) == _contents(scanned)
    assert indexed.values.in_use  # the test did go through the index


def test_index_follows_commits_and_is_built_from_the_rows_on_first_use():
    db = Database(SCHEMA)
    execute_and_apply = lambda ops: db.apply(execute(db, ops).changes)  # noqa: E731
    execute_and_apply([{"op": "insert", "table": "Root", "row": {"name": "a", "iset": 1}}])
    assert not db.values.in_use
    hit = execute(db, [{"op": "select", "table": "Root", "where": [["iset", "includes", 1]]}])
    assert len(hit.result[0]["rows"]) == 1
    assert db.values.names() == [("Root", "iset", "includes")]
    execute_and_apply([{"op": "mutate", "table": "Root", "where": [["name", "==", "a"]],
                        "mutations": [["iset", "insert", 2]]}])
    two = db.values.lookup("Root", "iset", "includes", 2)
    assert len(two) == 1
    execute_and_apply([{"op": "insert", "table": "Root", "row": {"name": "b", "iset": 2}}])
    assert len(db.values.lookup("Root", "iset", "includes", 2)) == 2
    execute_and_apply([{"op": "delete", "table": "Root", "where": [["name", "==", "a"]]}])
    (b,) = db.values.lookup("Root", "iset", "includes", 2)
    assert db.tables["Root"].rows[b]["name"].keys == ("b",)
    execute_and_apply([{"op": "delete", "table": "Root", "where": []}])
    assert not db.values.lookup("Root", "iset", "includes", 1)


def test_indexes_are_bounded_and_dropped_when_idle():
    rows: dict = {}

    class R(dict):
        pass

    def row(**cells):
        from reference.data.datum import Datum
        return R({c: Datum((v,)) for c, v in cells.items()})

    values = ValueIndex(lambda table: rows.items(), max_indexes=2, idle_changes=3)
    rows[1] = row(a=1, b=2, c=3)
    from reference.data.datum import Datum
    assert set(values.lookup("T", "a", "includes", 1)) == {1}
    assert set(values.lookup("T", "b", "==", Datum((2,)))) == {1}
    values.lookup("T", "a", "includes", 1)  # a is now the more recently used
    assert set(values.lookup("T", "c", "includes", 3)) == {1}
    assert values.names() == [("T", "a", "includes"), ("T", "c", "includes")]
    for n in range(3):
        rows[n + 2] = row(a=n, b=n, c=n)
        values.update("T", [(n + 2, None, rows[n + 2])])
    assert set(values.lookup("T", "c", "includes", 0)) == {1 + 1}
    values.update("T", [(9, None, row(a=0, b=0, c=0))])
    # a has now missed four changes without a lookup; c was asked about after three.
    assert values.names() == [("T", "c", "includes")]
    assert set(values.lookup("T", "c", "includes", 0)) == {2, 9}


def test_in_hash_order_is_the_order_of_the_walk():
    rng = random.Random(5)
    order = OvsHmap()
    keys = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(300)]
    for u in keys:
        order.insert(u, uuid_hash(u) & 0xF)  # few distinct hashes: long chains
    walk = list(order)
    for k in (1, 2, 5, 40, 200):
        some = rng.sample(keys, k)
        assert in_hash_order(order, some) == [u for u in walk if u in set(some)]
