"""The database: indexes and reference counts under apply(); standalone-file records
compared with what ovsdb-server 3.1 writes for the same transactions, and replayed."""

from __future__ import annotations

import random
import uuid

import orjson
import pytest

from reference.data.database import ChangeSet, Database, RowChange, make_row
from reference.data.datum import Datum
from reference.data.errors import OvsdbError
from reference.data.ovs_hash import OvsHmap, hash_string, ovs_order
from reference.data.schema import parse_schema
from reference.storage.records import (
    apply_file_record,
    changes_to_file_record,
    database_to_file_record,
)
from reference.txn.engine import execute
from tests.reference.test_schema import TEST_SCHEMA
from tests.reference.wire import Conn

SCHEMA = parse_schema(TEST_SCHEMA)


def U(n: int) -> str:  # noqa: N802
    return f"{n:08x}-1111-4222-8333-{n:012x}"


def read_records(path) -> list[dict]:
    """Records of a standalone OVSDB file ("OVSDB JSON <len> <sha1>" + JSON)."""
    lines = path.read_bytes().split(b"\n")
    return [orjson.loads(line) for line in lines[1::2] if line.strip()]


def contents(db: Database) -> dict:
    return {t: {str(u): {c: v for c, v in row.items() if c != "_version"}
                for u, row in tbl.rows.items()} for t, tbl in db.tables.items()}


# ---------------------------------------------------------------- apply()

def _apply(db, table, old, new):
    u = (new or old).uuid
    db.apply(ChangeSet({table: {u: RowChange(old, new)}}))


def test_apply_maintains_indexes_and_refcounts():
    db = Database(SCHEMA)
    root_ts, kid_ts = SCHEMA.tables["Root"], SCHEMA.tables["Kid"]
    k = make_row(kid_ts, uuid.uuid4(), {"name": Datum.atom("k")})
    r = make_row(root_ts, uuid.uuid4(), {"name": Datum.atom("r"), "kids": Datum.set([k.uuid]),
                                         "weak": Datum.set([k.uuid])})
    _apply(db, "Kid", None, k)
    _apply(db, "Root", None, r)
    assert db.strong_refs("Kid", k.uuid) == 1
    assert db.weak_referrers("Kid", k.uuid) == {("Root", r.uuid)}
    assert db.index_lookup("Root", 0, (Datum.atom("r"),)) == r.uuid
    r2 = make_row(root_ts, r.uuid, {"name": Datum.atom("s")})
    _apply(db, "Root", r, r2)
    assert db.strong_refs("Kid", k.uuid) == 0 and not db.weak_referrers("Kid", k.uuid)
    assert db.index_lookup("Root", 0, (Datum.atom("r"),)) is None
    assert db.index_lookup("Root", 0, (Datum.atom("s"),)) == r.uuid
    _apply(db, "Root", r2, None)
    assert not db.tables["Root"].rows and not db.tables["Root"].indexes[0]
    assert list(db.tables["Root"].order) == []


def test_index_keys_may_move_between_rows_in_one_change_set():
    db = Database(SCHEMA)
    ts = SCHEMA.tables["Root"]
    a = make_row(ts, uuid.uuid4(), {"name": Datum.atom("a")})
    b = make_row(ts, uuid.uuid4(), {"name": Datum.atom("b")})
    db.apply(ChangeSet({"Root": {a.uuid: RowChange(None, a), b.uuid: RowChange(None, b)}}))
    a2 = make_row(ts, a.uuid, {"name": Datum.atom("b")})
    b2 = make_row(ts, b.uuid, {"name": Datum.atom("a")})
    db.apply(ChangeSet({"Root": {a.uuid: RowChange(a, a2), b.uuid: RowChange(b, b2)}}))
    assert db.index_lookup("Root", 0, (Datum.atom("a"),)) == b.uuid
    assert db.index_lookup("Root", 0, (Datum.atom("b"),)) == a.uuid


# ---------------------------------------------------------------- OVS hash order

def test_hash_string_and_column_order_match_a_real_database_file(tmp_path):
    import subprocess
    schema = tmp_path / "t.ovsschema"
    schema.write_bytes(orjson.dumps(TEST_SCHEMA))
    subprocess.run(["ovsdb-tool", "create", str(tmp_path / "t.db"), str(schema)], check=True)
    written = read_records(tmp_path / "t.db")[0]
    for name, tj in TEST_SCHEMA["tables"].items():
        # ovsdb-tool parses the file (one hash walk), rebuilds the table's columns with
        # _uuid/_version first (a second) and writes the JSON object (a third).
        o1 = ovs_order(tj["columns"])
        l2 = [c for c in ovs_order(["_uuid", "_version", *o1]) if not c.startswith("_")]
        assert ovs_order(l2) == list(written["tables"][name]["columns"])


def test_table_order_is_worked_out_when_asked_with_a_bounded_backlog():
    """Rows entering and leaving are queued and replayed on demand: the order read
    must be the one an OvsHmap kept up to date step by step gives, and a table with
    churn that nobody iterates must not queue without bound."""
    db = Database(SCHEMA)
    tname = next(n for n, ts in SCHEMA.tables.items() if ts.is_root and not ts.indexes)
    t, eager = db.tables[tname], OvsHmap()
    rng, live = random.Random(5), []
    for step in range(6000):
        if live and (rng.random() < 0.5 or len(live) > 300):
            u = live.pop(rng.randrange(len(live)))
            change = RowChange(t.rows[u], None)
            eager.remove(u)
        else:
            u = uuid.UUID(int=rng.getrandbits(128))
            change = RowChange(None, make_row(SCHEMA.tables[tname], u))
            live.append(u)
            eager.insert(u, u.int >> 96)
        db.apply(ChangeSet({tname: {u: change}}))
        assert len(t._order_ops) <= 2 * len(t.rows) + 1024
        if step % 1500 == 0 or step == 5999:
            assert list(t.order) == list(eager)
            assert not t._order_ops


def test_ovs_hmap_grows_and_keeps_bucket_heads():
    h = OvsHmap()
    for k in (2, 1, 3):
        h.insert(k, k)
    assert list(h) == [1, 2, 3]  # grew to 4 buckets on the second insert
    h.remove(2)
    h.insert(2, 2)
    assert list(h) == [1, 2, 3] and len(h) == 3
    assert hash_string("") != hash_string("a")


# ---------------------------------------------------------------- file records vs OVS

SCRIPT = [
    [{"op": "insert", "table": "Root", "uuid": U(1),
      "row": {"name": "a", "i": 5, "iset": ["set", [1, 2]], "smap": ["map", [["k", "v"]]],
              "eph": 7}}],
    [{"op": "update", "table": "Root", "where": [["name", "==", "a"]],
      "row": {"iset": ["set", [2, 3]], "smap": ["map", [["k", "w"], ["n", "1"]]], "i": 6}}],
    [{"op": "update", "table": "Root", "where": [], "row": {"eph": 9}}],
    [{"op": "insert", "table": "Kid", "uuid": U(2), "row": {"name": "k"}, "uuid-name": "k"},
     {"op": "insert", "table": "Root", "uuid": U(3),
      "row": {"name": "b", "kids": ["named-uuid", "k"], "weak": ["named-uuid", "k"]}},
     {"op": "comment", "comment": "with a kid"}],
    [{"op": "insert", "table": "Kid", "uuid": U(4), "row": {"name": "orphan"}}],
    [{"op": "update", "table": "Root", "where": [["name", "==", "b"]],
      "row": {"kids": ["set", []]}}],
    [{"op": "mutate", "table": "Root", "where": [], "mutations": [["i", "+=", 1]]},
     {"op": "delete", "table": "Root", "where": [["name", "==", "a"]]}],
    [{"op": "insert", "table": "Lim", "uuid": U(5), "row": {"a": 1, "b": "x"}},
     {"op": "insert", "table": "Cons", "uuid": U(6), "row": {"rmin": 9}}],
]


@pytest.fixture(scope="module")
def ovs_file(ovsdb_test_schema):
    client = Conn.to(ovsdb_test_schema.remote, timeout=20)
    try:
        yield ovsdb_test_schema, client
    finally:
        client.close()


def test_records_match_what_ovsdb_server_writes(ovs_file):
    server, client = ovs_file
    path = server.dbfiles[0]
    db = Database(SCHEMA)
    compared = 0
    for ops in SCRIPT:
        before = len(read_records(path))
        reply = client.request("transact", ["T", *ops])
        out = execute(db, ops)
        assert "error" not in str(reply["result"]) and out.result == reply["result"]
        theirs = read_records(path)[before:]
        mine = changes_to_file_record(out.changes, SCHEMA) if out.changes else None
        if mine is None:
            assert theirs == []
        else:
            assert len(theirs) == 1
            t = dict(theirs[0])
            assert isinstance(t.pop("_date"), int) and isinstance(mine.pop("_date"), int)
            assert mine == t, ops
            compared += 1
            db.apply(out.changes)
    assert compared >= 6
    # Replaying OVS's own file gives what OVS gets when it reads the file, which is
    # the snapshot "ovsdb-tool compact" writes. It differs from the live database in
    # one way, in OVS as here: the weak reference that 3.1 left dangling in step 6
    # (the referring row was itself modified) is dropped when the log is replayed.
    import shutil
    import subprocess
    replay = Database(SCHEMA)
    for rec in read_records(path)[1:]:
        apply_file_record(replay, rec)
    copy = path.parent / "compacted.db"
    shutil.copy(path, copy)
    subprocess.run(["ovsdb-tool", "compact", str(copy)], check=True)
    theirs = read_records(copy)[1]
    mine = database_to_file_record(replay, comment=theirs["_comment"], date_ms=theirs["_date"])
    assert mine == theirs
    live = database_to_file_record(db, comment=theirs["_comment"], date_ms=theirs["_date"])
    b = U(3)
    assert live["Root"][b]["weak"] == ["uuid", U(2)] and "weak" not in mine["Root"][b]
    live["Root"][b].pop("weak")
    assert live == mine
    print(f"compared {compared} file records and a snapshot with ovsdb-server's")


def test_snapshot_round_trip():
    db = Database(SCHEMA)
    for ops in SCRIPT:
        out = execute(db, ops)
        if out.changes:
            db.apply(out.changes)
    # Reload what the log says, then snapshot and reload that: same contents.
    replay = Database(SCHEMA)
    for ops in SCRIPT:
        out = execute(replay, ops)
        if out.changes:
            apply_file_record(replay, changes_to_file_record(out.changes, SCHEMA) or {})
    snap = database_to_file_record(replay, comment="compacting")
    assert snap["_comment"] == "compacting" and "_is_diff" not in snap
    again = Database(SCHEMA)
    apply_file_record(again, snap)
    eph = {t: {u: {c: v for c, v in r.items() if c != "eph"} for u, r in rows.items()}
           for t, rows in contents(replay).items()}
    eph2 = {t: {u: {c: v for c, v in r.items() if c != "eph"} for u, r in rows.items()}
            for t, rows in contents(again).items()}
    assert eph == eph2  # ephemeral columns are not persisted
    assert contents(db)["Root"] != contents(replay)["Root"]  # the 3.1 weak-ref quirk


def test_old_full_value_records_are_read():
    db = Database(SCHEMA)
    apply_file_record(db, {"Root": {U(1): {"name": "a", "iset": ["set", [1, 2]]}}})
    apply_file_record(db, {"Root": {U(1): {"iset": ["set", [2, 3]]}}})  # full new value
    row = db.get_row("Root", uuid.UUID(U(1)))
    assert row["iset"] == Datum.set([2, 3]) and row["name"] == Datum.atom("a")
    apply_file_record(db, {"Root": {U(1): {"iset": 2}}, "_is_diff": True})  # toggles 2
    assert db.get_row("Root", uuid.UUID(U(1)))["iset"] == Datum.set([3])
    apply_file_record(db, {"Root": {U(1): None}})
    assert not db.tables["Root"].rows


def test_a_diff_may_name_more_elements_than_the_column_holds():
    # sset3 holds at most 3: {a,b,c} -> {d,e} is a diff of five toggled elements, which
    # ovsdb-server writes and reads back; the result is still held to the maximum.
    db = Database(SCHEMA)
    apply_file_record(db, {"Root": {U(1): {"name": "a", "sset3": ["set", ["a", "b", "c"]]}}})
    apply_file_record(db, {"Root": {U(1): {"sset3": ["set", ["a", "b", "c", "d", "e"]]}},
                           "_is_diff": True})
    assert db.get_row("Root", uuid.UUID(U(1)))["sset3"] == Datum.set(["d", "e"])
    with pytest.raises(OvsdbError):
        apply_file_record(db, {"Root": {U(1): {"sset3": ["set", ["x", "y"]]}},
                               "_is_diff": True})   # {d,e,x,y}: four, one too many


def test_nothing_persistent_means_no_record():
    db = Database(SCHEMA)
    out = execute(db, SCRIPT[0])
    db.apply(out.changes)
    out = execute(db, SCRIPT[2])  # only an ephemeral column changes
    assert out.changes is not None
    assert changes_to_file_record(out.changes, SCHEMA) is None


@pytest.mark.parametrize("record, details", [
    ({"Root": {"not-a-uuid": {"name": "a"}}}, '"not-a-uuid" is not a valid UUID'),
    ({"Root": {U(2): ["name", "a"]}}, "object expected"),
])
def test_damaged_record_is_an_ovsdb_error_and_changes_nothing(record, details):
    # Found by the records fuzz target: these raised ValueError and AttributeError,
    # a traceback instead of the refusal opening a damaged file must give.
    db = Database(SCHEMA)
    apply_file_record(db, {"Root": {U(1): {"name": "a"}}})
    with pytest.raises(OvsdbError, match=details):
        apply_file_record(db, record)
    assert list(db.tables["Root"].rows) == [uuid.UUID(U(1))]
