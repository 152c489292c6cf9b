"""The transaction engine without a server: purity, waits, locks, read-only databases,
commit checks, and database invariants under random transactions (hypothesis)."""

from __future__ import annotations

import math
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference.data.database import Database, refs_of
from reference.data.datum import Datum
from reference.data.schema import parse_schema
from reference.txn.engine import execute
from tests.reference.test_schema import TEST_SCHEMA

SCHEMA = parse_schema(TEST_SCHEMA)


def run(db: Database, ops: list, **kw):
    out = execute(db, ops, **kw)
    if out.changes is not None:
        db.apply(out.changes)
    return out


def snapshot(db: Database) -> dict:
    return {t: dict(tbl.rows) for t, tbl in db.tables.items()}


def names(db: Database, table: str = "Root") -> set[str]:
    return {r["name"].keys[0] for r in db.tables[table].rows.values()}


def ins(table, row, **kw):
    return {"op": "insert", "table": table, "row": row, **kw}


def test_execute_never_changes_contents():
    db = Database(SCHEMA)
    run(db, [ins("Root", {"name": "a"})])
    before = snapshot(db)
    for ops in ([ins("Root", {"name": "b"})],
                [{"op": "delete", "table": "Root", "where": []}],
                [{"op": "update", "table": "Root", "where": [], "row": {"i": 3}},
                 {"op": "abort"}],
                [ins("Root", {"name": "a"})]):  # index violation at commit
        execute(db, ops)
        assert snapshot(db) == before


def test_results_shape_on_errors():
    db = Database(SCHEMA)
    out = execute(db, [ins("Root", {"name": "a"}), {"op": "abort"}, {"op": "comment",
                                                                      "comment": "x"}])
    assert out.result[1] == {"error": "aborted", "details": "aborted by request"}
    assert out.result[2] is None and out.changes is None
    run(db, [ins("Root", {"name": "a"})])
    out = execute(db, [ins("Root", {"name": "a"})])
    assert len(out.result) == 2 and out.result[1]["error"] == "constraint violation"


def test_wait_blocks_then_times_out():
    db = Database(SCHEMA)
    wait = {"op": "wait", "table": "Root", "where": [], "until": "==",
            "rows": [{"name": "x"}], "columns": ["name"], "timeout": 250}
    out = execute(db, [wait], now_ms=1000, started_ms=1000)
    assert out.result is None and out.blocked_until == 1250
    out = execute(db, [wait], now_ms=1200, started_ms=1000)
    assert out.blocked_until == 1250
    out = execute(db, [wait], now_ms=1260, started_ms=1000)
    assert out.result == [{"error": "timed out", "details": '"wait" timed out after 260 ms'}]
    run(db, [ins("Root", {"name": "x"})])
    assert execute(db, [wait], now_ms=1100, started_ms=1000).result == [{}]
    forever = dict(wait, until="!=")
    forever.pop("timeout")
    assert execute(db, [forever], now_ms=0).blocked_until == math.inf
    now = dict(wait, until="!=", timeout=0)
    assert execute(db, [now]).result[0]["details"] == '"where" clause test failed'


def test_commit_comment_and_assert():
    db = Database(SCHEMA)
    out = run(db, [{"op": "commit", "durable": True}, {"op": "comment", "comment": "a"},
                   {"op": "comment", "comment": "b"}, ins("Root", {"name": "c"})])
    assert out.durable and out.comment == "a\nb" and out.changes.comment == "a\nb"
    out = execute(db, [{"op": "assert", "lock": "l"}])
    assert out.result == [{"error": "not owner", "details": "Asserted lock l not held."}]
    out = execute(db, [{"op": "assert", "lock": "l"}], owns_lock=lambda n: n == "l")
    assert out.result == [{}]


def test_read_only_database_refuses_writes():
    db = Database(SCHEMA)
    out = execute(db, [{"op": "delete", "table": "Root", "where": []}], read_only=True,
                  db_name="_Server")
    assert out.result == [{"error": "not allowed", "details": "delete operation not allowed "
                                                               "on table in reserved database "
                                                               "_Server"}]
    assert execute(db, [{"op": "select", "table": "Root", "where": []}],
                   read_only=True).result == [{"rows": []}]


def test_version_bumps_only_on_real_change():
    db = Database(SCHEMA)
    run(db, [ins("Root", {"name": "a", "i": 1})])
    (row,) = db.tables["Root"].rows.values()
    out = run(db, [{"op": "update", "table": "Root", "where": [], "row": {"i": 1}}])
    assert out.result == [{"count": 1}] and out.changes is None
    out = run(db, [{"op": "update", "table": "Root", "where": [], "row": {"i": 2}}])
    (row2,) = db.tables["Root"].rows.values()
    assert row2.version != row.version and row2.uuid == row.uuid


def test_garbage_collection_cascades():
    db = Database(SCHEMA)
    run(db, [ins("Kid", {"name": "g1"}, **{"uuid-name": "g1"}),
             ins("Kid", {"name": "g2", "parent": ["named-uuid", "g1"]}, **{"uuid-name": "g2"}),
             ins("Root", {"name": "r", "kids": ["named-uuid", "g2"]}),
             ins("Kid", {"name": "orphan"}),
             ins("Kid", {"name": "self", "parent": ["named-uuid", "s"]}, **{"uuid-name": "s"})])
    assert names(db, "Kid") == {"g1", "g2"}
    out = run(db, [{"op": "update", "table": "Root", "where": [], "row": {"kids": ["set", []]}}])
    assert names(db, "Kid") == set()
    assert {ch.new is None for ch in out.changes.tables["Kid"].values()} == {True}


def test_strong_reference_errors():
    db = Database(SCHEMA)
    ghost = str(uuid.UUID(int=7))
    out = execute(db, [ins("Root", {"name": "r", "kids": ["uuid", ghost]})])
    assert out.result[-1]["error"] == "referential integrity violation"
    assert f"references nonexistent row {ghost} in table Kid." in out.result[-1]["details"]
    run(db, [ins("Kid", {"name": "k"}, **{"uuid-name": "k"}),
             ins("Root", {"name": "r", "kids": ["named-uuid", "k"]})])
    out = execute(db, [{"op": "delete", "table": "Kid", "where": []}])
    assert out.result[-1]["details"].endswith("because of 1 remaining reference(s)")


def test_weak_references_are_removed_or_break_min():
    db = Database(SCHEMA)
    run(db, [ins("Kid", {"name": "k"}, **{"uuid-name": "k"}),
             ins("Root", {"name": "holder", "kids": ["named-uuid", "k"]}),
             ins("Root", {"name": "w", "weak": ["named-uuid", "k"],
                          "wmap": ["map", [["x", ["named-uuid", "k"]]]]})])
    run(db, [{"op": "update", "table": "Root", "where": [["name", "==", "holder"]],
              "row": {"kids": ["set", []]}}])
    w = next(r for r in db.tables["Root"].rows.values() if r["name"].keys == ("w",))
    assert w["weak"] == Datum() and w["wmap"] == Datum((), ())
    out = execute(db, [ins("W1", {})])
    assert "contained all-zeros UUID" in out.result[-1]["details"]


def test_max_rows():
    db = Database(SCHEMA)
    out = execute(db, [ins("Lim", {"a": i, "b": str(i)}) for i in range(3)])
    assert out.result[-1]["details"] == ('transaction causes "Lim" table to contain 3 rows, '
                                         "greater than the schema-defined limit of 2 row(s)")


# ---------------------------------------------------------------- invariants

NAMES = ["a", "b", "c"]


@st.composite
def operations(draw):
    kind = draw(st.sampled_from(["root", "kid", "link", "unlink", "delroot", "delkid",
                                 "lim", "dellim", "weak"]))
    name = draw(st.sampled_from(NAMES))
    if kind == "root":
        return [ins("Root", {"name": name + draw(st.sampled_from("12"))})]
    if kind == "kid":
        return [ins("Kid", {"name": name}, **{"uuid-name": "k"}),
                ins("Root", {"name": name + "k", "kids": ["named-uuid", "k"]})]
    if kind == "link":
        return [{"op": "mutate", "table": "Root", "where": [["name", "==", name + "k"]],
                 "mutations": [["weak", "insert", ["set", []]]]}]
    if kind == "unlink":
        return [{"op": "update", "table": "Root", "where": [["name", "==", name + "k"]],
                 "row": {"kids": ["set", []]}}]
    if kind == "delroot":
        return [{"op": "delete", "table": "Root", "where": [["name", "==", name + "1"]]}]
    if kind == "delkid":
        return [{"op": "delete", "table": "Kid", "where": [["name", "==", name]]}]
    if kind == "lim":
        return [ins("Lim", {"a": draw(st.integers(0, 2)), "b": name})]
    if kind == "dellim":
        return [{"op": "delete", "table": "Lim", "where": [["b", "==", name]]}]
    return [ins("Kid", {"name": name}, **{"uuid-name": "w"}),
            ins("Root", {"name": name + "w", "kids": ["named-uuid", "w"],
                         "weak": ["named-uuid", "w"]})]


def check_invariants(db: Database) -> None:
    strong: dict = {}
    for t in db.tables.values():
        for u, row in t.rows.items():
            assert row.uuid == u
            s, w = refs_of(t.schema, row)
            for target in s:
                assert db.get_row(*target) is not None, "dangling strong reference"
                strong[target] = strong.get(target, 0) + 1
        for i, cols in enumerate(t.schema.indexes):
            keys = [tuple(r[c] for c in cols) for r in t.rows.values()]
            assert len(keys) == len(set(keys)), "index uniqueness"
            assert set(t.indexes[i]) == set(keys)
        assert set(t.order) == set(t.rows)
        if t.schema.max_rows is not None:
            assert len(t.rows) <= t.schema.max_rows
    for tname, t in db.tables.items():
        for u in t.rows:
            assert db.strong_refs(tname, u) == strong.get((tname, u), 0)
            if not t.schema.is_root:
                assert strong.get((tname, u), 0) > 0, "unreferenced non-root row survived"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(operations(), min_size=1, max_size=3), min_size=1, max_size=12))
def test_random_transactions_keep_the_database_consistent(txns):
    db = Database(SCHEMA)
    for txn in txns:
        ops = [op for group in txn for op in group]
        before = snapshot(db)
        out = execute(db, ops)
        assert snapshot(db) == before
        assert len(out.result) in (len(ops), len(ops) + 1)
        if out.changes is not None:
            assert all(isinstance(x, dict) and "error" not in x for x in out.result)
            db.apply(out.changes)
        check_invariants(db)


def test_invariant_checker_catches_a_broken_database():
    db = Database(SCHEMA)
    run(db, [ins("Kid", {"name": "k"}, **{"uuid-name": "k"}),
             ins("Root", {"name": "r", "kids": ["named-uuid", "k"]})])
    (kid,) = db.tables["Kid"].rows
    del db.tables["Kid"].rows[kid]  # corrupt it behind the engine's back
    with pytest.raises(AssertionError):
        check_invariants(db)


def test_change_sets_executed_against_the_same_state_apply_in_turn():
    # A server may execute a second transaction before the first is applied (while
    # storage writes); both must land, and row iteration must still see every row.
    db = Database(SCHEMA)
    a = execute(db, [ins("Root", {"name": "a"})])
    b = execute(db, [ins("Root", {"name": "b"})])
    db.apply(a.changes)
    db.apply(b.changes)
    assert names(db) == {"a", "b"}
    assert set(db.tables["Root"].order) == set(db.tables["Root"].rows)
    c = execute(db, [{"op": "delete", "table": "Root", "where": [["name", "==", "a"]]}])
    execute(db, [ins("Root", {"name": "x"}), {"op": "abort"}])  # reorders, as in OVS
    db.apply(c.changes)
    assert names(db) == {"b"} and set(db.tables["Root"].order) == set(db.tables["Root"].rows)
