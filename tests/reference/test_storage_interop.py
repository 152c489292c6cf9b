"""Our database files against the real Open vSwitch tools, both ways.

- ``ovsdb-tool show-log``/``query`` read files we wrote: fresh from ``crucible db create``,
  after appending transaction records in the exact layout ovsdb-server writes, after
  compaction, and after we truncated a torn tail.
- We read files ``ovsdb-tool create`` and a real ``ovsdb-server`` wrote (driven by
  ``ovsdb-client transact``, including its online compaction) and get the contents the
  server itself reports.
- Damage: our log line for a torn tail is the message ovsdb-tool prints for the same
  bytes; a damaged middle record is refused by us and by ovsdb-tool.
- Locking: our writer and ovsdb-server's lock file exclude each other.

The records are folded into table contents by a small applier written here from OVS's
documented file semantics (``_is_diff`` records: sets toggle, maps toggle/replace keys,
scalar and optional columns carry the new value) so the check does not depend on
``reference.storage.records``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import orjson
import pytest

from harness.targets.server import REPO, start_server
from reference.storage import dbtool, log_file

pytestmark = pytest.mark.skipif(shutil.which("ovsdb-tool") is None,
                                reason="Open vSwitch tools are not installed")

SCHEMA = {
    "name": "S", "version": "1.2.3",
    "tables": {
        "A": {"columns": {
            "name": {"type": "string"},
            "n": {"type": "integer"},
            "r": {"type": "real"},
            "b": {"type": "boolean"},
            "o": {"type": {"key": "string", "min": 0, "max": 1}},
            "s": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
            "m": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
            "peer": {"type": {"key": {"type": "uuid", "refTable": "B", "refType": "weak"},
                              "min": 0, "max": 1}},
        }, "isRoot": True},
        "B": {"columns": {"k": {"type": "integer"}}, "isRoot": True},
    },
}
U1 = "3bac909b-f875-4ffe-a286-c910ab7c3628"
U2 = "4100d524-2b51-42e6-86c4-b967210bdf68"
U3 = "2efb8551-bd6c-4504-b2b7-56076d87c38b"


# -- a small, independent reading of OVS file records -----------------------------------

def _type(col: dict) -> dict:
    t = col["type"]
    t = {"key": t} if isinstance(t, str) else dict(t)
    t.setdefault("min", 1)
    t.setdefault("max", 1)
    return t


def _atoms(v) -> list:
    return v[1] if isinstance(v, list) and v and v[0] in ("set", "map") else [v]


def _key(a) -> bytes:
    # ovsdb-server prints the real 0.0 as 0: compare numbers by value.
    if isinstance(a, float) and a.is_integer():
        a = int(a)
    return orjson.dumps(a)


def _norm(t: dict, v):
    """A comparable form of a wire value of type t."""
    if "value" in t:
        return {_key(k): _key(x) for k, x in v[1]}
    if t["min"] == 1 and t["max"] == 1:
        return _key(v)
    return frozenset(_key(a) for a in _atoms(v))


def _default(t: dict):
    key = t["key"] if isinstance(t["key"], str) else t["key"]["type"]
    if "value" in t:
        return {}
    if t["min"] == 1 and t["max"] == 1:
        zero = {"integer": 0, "real": 0.0, "boolean": False, "string": "",
                "uuid": ["uuid", "00000000-0000-0000-0000-000000000000"]}[key]
        return _key(zero)
    return frozenset()


def _apply_diff(t: dict, old, diff):
    if "value" in t:
        new = dict(old)
        for k, v in _norm(t, diff).items():
            if new.get(k) == v:
                del new[k]
            else:
                new[k] = v
        return new
    if t["max"] == 1:
        return _norm(t, diff)
    return old ^ _norm(t, diff)


def fold(schema: dict, records: list[dict]) -> dict:
    """Table contents after the records: {table: {uuid: {column: normalised value}}}."""
    types = {tn: {c: _type(cj) for c, cj in tj["columns"].items()}
             for tn, tj in schema["tables"].items()}
    db: dict = {tn: {} for tn in types}
    for rec in records:
        for tn, rows in rec.items():
            if tn.startswith("_"):
                continue
            for uuid, row in rows.items():
                if row is None:
                    del db[tn][uuid]
                elif uuid not in db[tn]:
                    db[tn][uuid] = {c: _default(t) for c, t in types[tn].items()}
                    db[tn][uuid].update({c: _norm(types[tn][c], v) for c, v in row.items()})
                else:
                    cur = db[tn][uuid]
                    for c, v in row.items():
                        t = types[tn][c]
                        cur[c] = (_apply_diff(t, cur[c], v) if rec.get("_is_diff")
                                  else _norm(t, v))
    return db


def from_select(schema: dict, results: list) -> dict:
    """The same shape from a transaction of one select-all per table."""
    out = {}
    for tn, result in zip(schema["tables"], results, strict=True):
        types = {c: _type(cj) for c, cj in schema["tables"][tn]["columns"].items()}
        out[tn] = {row["_uuid"][1]: {c: _norm(t, row[c]) for c, t in types.items()}
                   for row in result["rows"]}
    return out


def select_all(schema: dict) -> list:
    return [schema["name"], *({"op": "select", "table": t, "where": []}
                              for t in schema["tables"])]


def tool(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ovsdb-tool", *args], capture_output=True, text=True,
                          check=check, timeout=30)


def tool_contents(db: str) -> dict:
    out = tool("query", db, orjson.dumps(select_all(SCHEMA)).decode()).stdout
    return from_select(SCHEMA, orjson.loads(out))


# Transaction records laid out exactly as ovsdb-server 3.1 writes them (captured from
# the real server, with our UUIDs): an insert with a comment, a diff that toggles set
# members and map keys and replaces scalars, a weak reference, a delete.
TXNS = [
    {"_date": 1795481359561, "_is_diff": True, "_comment": "hello",
     "A": {U1: {"name": "x", "n": 1, "o": "a", "s": ["set", [1, 2]],
                "m": ["map", [["a", "b"]]]}}},
    {"_date": 1795481359565, "_is_diff": True,
     "A": {U1: {"n": 2, "r": 2.5, "b": True, "o": ["set", []], "s": ["set", [1, 3]],
                "m": ["map", [["a", "c"], ["d", "e"]]]}}},
    {"_date": 1795481359566, "_is_diff": True,
     "B": {U3: {"k": 7}}, "A": {U2: {"name": "y", "peer": ["uuid", U3], "s": 5}}},
    {"_date": 1795481359569, "_is_diff": True, "A": {U1: None}},
]


@pytest.fixture
def schema_file(tmp_path):
    p = tmp_path / "s.ovsschema"
    p.write_bytes(orjson.dumps(SCHEMA))
    return str(p)


@pytest.fixture
def our_db(tmp_path, schema_file):
    db = str(tmp_path / "ours.db")
    assert dbtool.main(["create", db, schema_file]) == 0
    return db


def test_ovsdb_tool_reads_a_fresh_crucible_db(our_db):
    assert tool("db-name", our_db).stdout == "S\n"
    assert tool("db-version", our_db).stdout == "1.2.3\n"
    assert tool("show-log", our_db).stdout.startswith('record 0: "S" schema, version="1.2.3"')
    assert tool_contents(our_db) == {"A": {}, "B": {}}


def test_crucible_db_create_through_the_cli_writes_what_ovsdb_tool_writes(tmp_path):
    """The same schema record as `ovsdb-tool create` (both re-serialise the schema)."""
    for schema in ("/usr/share/ovn/ovn-nb.ovsschema", str(REPO / "tests/reference/schemas/"
                                                            "crucible.ovsschema")):
        ours, theirs = tmp_path / "o.db", tmp_path / "t.db"
        for p in (ours, theirs):
            p.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "reference.storage.dbtool", "create", str(ours),
                        schema], check=True, cwd=REPO, timeout=30)
        tool("create", str(theirs), schema)
        assert log_file.read(str(ours)).records == log_file.read(str(theirs)).records


def test_ovsdb_tool_reads_our_transaction_records_and_compaction(our_db):
    log, schema, _ = log_file.LogFile.open(our_db)
    expected = []
    with log:
        for i, rec in enumerate(TXNS):
            log.append(rec, durable=(i % 2 == 0))
            expected.append(rec)
            assert tool_contents(our_db) == fold(SCHEMA, expected)
        shown = tool("show-log", "-m", our_db).stdout
        assert 'record 1: 2026-11-24 ' in shown and '"hello"' in shown
        assert "table A insert row \"x\" (3bac909b)" in shown
        assert "delete row" in shown
        # Online compaction: a snapshot record in OVS's layout, then more appends.
        before = tool_contents(our_db)
        snapshot = {"_date": 1795481367787, "_comment": "compacting database online",
                    "_is_diff": True, "A": {U2: {"name": "y", "peer": ["uuid", U3], "s": 5}},
                    "B": {U3: {"k": 7}}}
        log.compact(schema, snapshot)
        assert tool_contents(our_db) == before
        assert len(log_file.read(our_db).records) == 2
        log.append({"_date": 1795481367790, "_is_diff": True, "B": {U3: {"k": 8}}},
                   durable=True)
    after = tool_contents(our_db)
    assert after["B"][U3]["k"] == _key(8) and after["A"] == before["A"]


def test_we_read_what_a_real_ovsdb_server_wrote(tmp_path, schema_file):
    """Drive the real server with ovsdb-client transact (its online compaction in the
    middle), then fold its file ourselves: the contents it reported must come out."""
    srv = start_server("ovsdb-server", tmp_path, [schema_file])
    try:
        live = run_workload(srv)
    finally:
        srv.stop()
    db = str(srv.dbfiles[0])
    parsed = log_file.read(db)
    assert parsed.bad is None
    assert any(r.get("_comment") == "compacting database online" for r in parsed.records)
    assert all(r.get("_is_diff") for r in parsed.records[1:])
    log, schema, records = log_file.LogFile.open(db)
    log.close()
    assert schema["name"] == "S"
    assert fold(SCHEMA, records) == live
    assert len(live["A"]) == 1 and not live["B"]


def test_torn_tail_message_matches_ovsdb_tool_and_leaves_a_good_file(our_db, caplog):
    log, _, _ = log_file.LogFile.open(our_db)
    with log:
        for rec in TXNS[:3]:
            log.append(rec)
    good = fold(SCHEMA, TXNS[:2])
    data = open(our_db, "rb").read()
    open(our_db, "wb").write(data[:-7])      # the last append was cut short by a crash
    refused = tool("query", our_db, orjson.dumps(select_all(SCHEMA)).decode(), check=False)
    assert refused.returncode != 0
    with caplog.at_level("ERROR", logger="reference.storage"):
        log, _, records = log_file.LogFile.open(our_db)
    log.close()
    assert records == TXNS[:2]
    # Our log line is the very message ovsdb-tool prints for these bytes.
    assert f"ovsdb-tool: {caplog.messages[0]}" == refused.stderr.strip()
    assert any("truncating" in m for m in caplog.messages)
    assert tool_contents(our_db) == good
    assert tool("show-log", our_db).returncode == 0


def test_damaged_middle_record_is_refused_like_ovsdb_tool(our_db):
    log, _, _ = log_file.LogFile.open(our_db)
    with log:
        for rec in TXNS:
            log.append(rec)
    data = bytearray(open(our_db, "rb").read())
    data[data.index(b'"hello"') + 2] ^= 0x20
    open(our_db, "wb").write(bytes(data))
    refused = tool("show-log", our_db, check=False)
    assert refused.returncode != 0
    with pytest.raises(log_file.CorruptLogError) as err:
        log_file.LogFile.open(our_db)
    assert refused.stderr.strip().removeprefix("ovsdb-tool: ") in str(err.value)
    assert bytes(data) == open(our_db, "rb").read()


def test_our_lock_and_ovsdb_servers_lock_exclude_each_other(tmp_path, our_db, schema_file):
    log, _, _ = log_file.LogFile.open(our_db)
    with log:
        busy = tool("transact", our_db, '["S"]', check=False)
        assert busy.returncode != 0 and "lock" in busy.stderr
    assert tool("transact", our_db, '["S"]').returncode == 0
    srv = start_server("ovsdb-server", tmp_path, [schema_file])
    try:
        with pytest.raises(log_file.LockedError):
            log_file.LogFile.open(str(srv.dbfiles[0]))
    finally:
        srv.stop()
    log_file.LogFile.open(str(srv.dbfiles[0]))[0].close()


def test_real_server_serves_records_we_appended(tmp_path, schema_file):
    """The other direction for a live server: ovsdb-server starts on our file."""
    workdir = tmp_path / "ovsdb-server"
    workdir.mkdir()
    db = str(workdir / "db0.db")
    assert dbtool.main(["create", db, schema_file]) == 0
    log, _, _ = log_file.LogFile.open(db)
    with log:
        for rec in TXNS[:3]:
            log.append(rec, durable=True)
    srv = start_server("ovsdb-server", tmp_path, [schema_file])
    try:
        out = subprocess.run(["ovsdb-client", "transact", srv.remote,
                              orjson.dumps(select_all(SCHEMA)).decode()],
                             capture_output=True, text=True, check=True, timeout=30)
    finally:
        srv.stop()
    assert from_select(SCHEMA, orjson.loads(out.stdout)) == fold(SCHEMA, TXNS[:3])


# -- the reference server's own files ----------------------------------------------------


WORKLOAD = [
    [{"op": "insert", "table": "B", "row": {"k": 1}, "uuid-name": "b"},
     {"op": "insert", "table": "A", "row": {"name": "x", "o": "q", "s": ["set", [1, 2, 3]],
                                            "m": ["map", [["k1", "v1"], ["k2", "v2"]]],
                                            "peer": ["named-uuid", "b"]}},
     {"op": "comment", "comment": "first"}],
    [{"op": "insert", "table": "A", "row": {"name": "y", "n": 5, "r": 1.5}}],
    [{"op": "mutate", "table": "A", "where": [["name", "==", "x"]],
      "mutations": [["s", "delete", ["set", [2]]], ["s", "insert", 9],
                    ["m", "insert", ["map", [["k3", "v3"]]]], ["n", "+=", 4]]}],
    "compact",
    [{"op": "update", "table": "A", "where": [["name", "==", "x"]],
      "row": {"o": ["set", []], "b": True, "m": ["map", [["k1", "changed"], ["k3", "v3"]]]}},
     {"op": "commit", "durable": True}],
    [{"op": "delete", "table": "A", "where": [["name", "==", "y"]]}],
    [{"op": "delete", "table": "B", "where": []}],
]


def run_workload(srv) -> dict:
    """Run WORKLOAD with ovsdb-client/ovs-appctl; return the contents the server serves."""
    def transact(ops):
        out = subprocess.run(["ovsdb-client", "transact", srv.remote,
                              orjson.dumps(["S", *ops]).decode()],
                             capture_output=True, text=True, check=True, timeout=30)
        res = orjson.loads(out.stdout)
        assert all(not (isinstance(r, dict) and "error" in r) for r in res), res
        return res

    for step in WORKLOAD:
        if step == "compact":
            subprocess.run(["ovs-appctl", "-t", str(srv.workdir / f"{srv.kind}.ctl"),
                            "ovsdb-server/compact"], check=True, timeout=30,
                           capture_output=True)
        else:
            transact(step)
    return from_select(SCHEMA, transact(select_all(SCHEMA)[1:]))


def test_ovsdb_tool_reads_what_our_server_wrote(tmp_path, schema_file):
    srv = start_server("reference", tmp_path, [schema_file])
    try:
        live = run_workload(srv)
    finally:
        srv.stop()
    db = str(srv.dbfiles[0])
    assert tool_contents(db) == live
    assert tool("show-log", db).returncode == 0
    log, _, records = log_file.LogFile.open(db)
    log.close()
    assert fold(SCHEMA, records) == live


def test_our_server_serves_what_ovsdb_server_wrote(tmp_path, schema_file):
    real = start_server("ovsdb-server", tmp_path, [schema_file])
    try:
        live = run_workload(real)
    finally:
        real.stop()
    workdir = tmp_path / "reference"
    workdir.mkdir()
    shutil.copy(real.dbfiles[0], workdir / "db0.db")
    ours = start_server("reference", tmp_path, [schema_file])
    try:
        out = subprocess.run(["ovsdb-client", "transact", ours.remote,
                              orjson.dumps(select_all(SCHEMA)).decode()],
                             capture_output=True, text=True, check=True, timeout=30)
    finally:
        ours.stop()
    assert from_select(SCHEMA, orjson.loads(out.stdout)) == live


def test_crucible_db_compact_keeps_the_contents(tmp_path, our_db):
    log, _, _ = log_file.LogFile.open(our_db)
    with log:
        for rec in TXNS[:3]:
            log.append(rec)
    before = tool_contents(our_db)
    copy = str(tmp_path / "copy.db")
    for args in ([our_db, copy], [our_db]):  # through the CLI, as a user runs it
        subprocess.run([sys.executable, "-m", "reference.storage.dbtool", "compact", *args],
                       check=True, cwd=REPO, timeout=30)
    for db in (our_db, copy):
        records = log_file.read(db).records
        assert len(records) == 2 and records[1]["_comment"] == "compacted by crucible db"
        assert tool_contents(db) == before
    theirs = str(tmp_path / "theirs.db")
    tool("compact", our_db, theirs)
    assert fold(SCHEMA, log_file.read(theirs).records[1:]) == fold(
        SCHEMA, log_file.read(our_db).records[1:])


def test_reference_db_replays_a_real_ovsdb_server_file(tmp_path, schema_file):
    """reference.storage.records folds what ovsdb-server wrote (diffs, a compaction snapshot) into the
    contents the real server served; and its own snapshot of them reads back equal."""
    from reference.data.database import Database
    from reference.data.datum import datum_to_json
    from reference.data.schema import parse_schema
    from reference.storage.records import apply_file_record, database_to_file_record

    srv = start_server("ovsdb-server", tmp_path, [schema_file])
    try:
        live = run_workload(srv)
    finally:
        srv.stop()
    log, schema_json, records = log_file.LogFile.open(str(srv.dbfiles[0]))
    log.close()
    schema = parse_schema(schema_json)
    database = Database(schema)
    for record in records:
        apply_file_record(database, record)

    def contents(d) -> dict:
        return {tn: {str(u): {c: _norm(_type(SCHEMA["tables"][tn]["columns"][c]),
                                       datum_to_json(row[c], schema.tables[tn].columns[c].type))
                              for c in SCHEMA["tables"][tn]["columns"]}
                     for u, row in d.tables[tn].rows.items()}
                for tn in SCHEMA["tables"]}

    assert contents(database) == live
    again = Database(schema)
    apply_file_record(again, database_to_file_record(database))
    assert contents(again) == live


def test_our_server_truncates_a_torn_tail_and_logs_it(tmp_path, schema_file):
    workdir = tmp_path / "reference"
    workdir.mkdir()
    db = str(workdir / "db0.db")
    assert dbtool.main(["create", db, schema_file]) == 0
    log, _, _ = log_file.LogFile.open(db)
    with log:
        for rec in TXNS[:3]:
            log.append(rec, durable=True)
    data = open(db, "rb").read()
    open(db, "wb").write(data[:-7])  # the last write was cut short
    srv = start_server("reference", tmp_path, [schema_file])
    try:
        def transact(ops):
            out = subprocess.run(["ovsdb-client", "transact", srv.remote,
                                  orjson.dumps(["S", *ops]).decode()],
                                 capture_output=True, text=True, check=True, timeout=30)
            return orjson.loads(out.stdout)

        assert from_select(SCHEMA, transact(select_all(SCHEMA)[1:])) == fold(SCHEMA, TXNS[:2])
        transact([{"op": "insert", "table": "B", "row": {"k": 42}}])
        logged = srv.log()
    finally:
        srv.stop()
    assert "error reading" in logged and "(End of file)" in logged
    assert "truncating" in logged
    after = tool_contents(db)
    assert [r["k"] for r in after["B"].values()] == [_key(42)]
