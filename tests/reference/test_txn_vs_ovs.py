"""Differential test: the pure transaction engine against the real ovsdb-server 3.1.

The same transactions run through reference.txn.engine.execute (with a tiny loop here that
applies each change set) and through ovsdb-server over a socket; replies must be equal
after normalisation: UUIDs become their first-seen order, _version values are masked
(both sides draw them at random), select rows are sorted, and the two rows of an index
error are put in label order (OVS orders them by a hash-table walk). A scripted list
covers every error case the engine handles; a seeded random workload follows.
"""

from __future__ import annotations

import random
import re
import uuid

import orjson
import pytest

from reference.data.database import Database
from reference.data.schema import parse_schema
from reference.txn.engine import execute
from tests.reference.test_schema import TEST_SCHEMA
from tests.reference.wire import Conn

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
U1 = "11111111-2222-3333-4444-555555555555"
U2 = "aaaaaaaa-2222-3333-4444-555555555555"


class Ours:
    """The pure engine plus the few lines a server wraps around it."""

    def __init__(self, schema_json: dict | None = None):
        # OVS walks a table's columns in hash order of the schema as its database file
        # holds it, so give our side the same text when we have it.
        self.db = Database(parse_schema(schema_json or TEST_SCHEMA))

    def transact(self, ops: list) -> list:
        started = now = 1_000_000.0
        for _ in range(10):
            out = execute(self.db, ops, now_ms=now, started_ms=started)
            if out.blocked_until is None:
                if out.changes is not None:
                    self.db.apply(out.changes)
                # Round-trip through real JSON, as a server would send it.
                return orjson.loads(orjson.dumps(out.result))
            assert out.blocked_until != float("inf"), "test would block forever"
            now = out.blocked_until  # nothing else commits here: wait for the deadline
        raise AssertionError("still blocked")


_INDEX_ERR = re.compile(r"(.*)First row, with UUID (#\d+), (.*?)  Second row, with UUID "
                        r"(#\d+), (.*)\Z", re.S)


class Normaliser:
    def __init__(self):
        self.labels: dict[str, str] = {}

    def label(self, u: str) -> str:
        if u not in self.labels:
            self.labels[u] = f"#{len(self.labels)}"
        return self.labels[u]

    def _key(self, v) -> str:
        return UUID_RE.sub(lambda m: self.labels.get(m.group(0), "?"),
                           orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode())

    def walk(self, v):
        if isinstance(v, str):
            v = UUID_RE.sub(lambda m: self.label(m.group(0)), v)
            v = re.sub(r'"wait" timed out after \d+ ms', '"wait" timed out after N ms', v)
            m = _INDEX_ERR.match(v)
            if m:
                a, b = (m.group(2), m.group(3)), (m.group(4), m.group(5))
                a, b = sorted([a, b], key=lambda x: int(x[0][1:]))
                v = (f"{m.group(1)}First row, with UUID {a[0]}, {a[1]}  Second row, with "
                     f"UUID {b[0]}, {b[1]}")
            return v
        if isinstance(v, list):
            return [self.walk(x) for x in v]
        if isinstance(v, dict):
            out = {}
            for k in sorted(v):
                if k == "_version":
                    out[k] = "<version>"
                elif k == "rows" and isinstance(v[k], list):
                    out[k] = [self.walk(r) for r in sorted(v[k], key=self._key)]
                else:
                    out[k] = self.walk(v[k])
            return out
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
            return int(v)
        return v


@pytest.fixture(scope="module")
def ovs(ovsdb_test_schema):
    server = ovsdb_test_schema
    client = Conn.to(server.remote, timeout=20)
    # The schema as ovsdb-tool wrote it into the database file (second line).
    client.file_schema = orjson.loads(server.dbfiles[0].read_bytes().split(b"\n")[1])
    try:
        yield client
    finally:
        client.close()


def R(**row):  # noqa: N802 - reads like the op it builds
    return row


def ins(table, row, **kw):
    return {"op": "insert", "table": table, "row": row, **kw}


def sel(table, where=(), columns=None):
    op = {"op": "select", "table": table, "where": list(where)}
    if columns is not None:
        op["columns"] = columns
    return op


def upd(table, where, row):
    return {"op": "update", "table": table, "where": where, "row": row}


def mut(table, where, mutations):
    return {"op": "mutate", "table": table, "where": where, "mutations": mutations}


def dele(table, where=()):
    return {"op": "delete", "table": table, "where": list(where)}


def wait(table, where, columns, until, rows, timeout=0):
    op = {"op": "wait", "table": table, "where": where, "until": until, "rows": rows,
          "timeout": timeout}
    if columns is not None:
        op["columns"] = columns
    return op


WIPE = [dele("Root"), dele("Lim"), dele("W1"), dele("Cons"), dele("Kid")]
NAME_A = [["name", "==", "a"]]

SCRIPT: list[list] = [
    [],
    WIPE,
    # insert: values, defaults, errors of every kind
    [ins("Root", R(name="x", r=1.0, rset=["set", [1e20, 0.1, 2.5, 1, -0.0, 1e-7,
                                                  123456789012345678]]))],
    [sel("Root")],
    [ins("Root", R(name="y", i=1.5))],
    [ins("Root", R(name="y", i="x"))],
    [ins("Root", R(name="y", i=1e2))],
    [ins("Root", R(zz=1))],
    [ins("Nope", R())],
    [ins("Root", R(name="n1", ri=11))],
    [ins("Root", R(name="n1", rmin=1))],
    [ins("Root", R(name="n1", rmax=6))],
    [ins("Root", R(name="n1", rr=3))],
    [ins("Root", R(name="n1", rr=-3.25))],
    [ins("Root", R(name="n1", e="zz"))],
    [ins("Root", R(name="n1", sl="a"))],
    [ins("Root", R(name="n1", sl="abcdé"))],
    [ins("Root", R(name="n1", sset3=["set", []]))],
    [ins("Root", R(name="n1", sset3=["set", ["a", "b", "c", "d"]]))],
    [ins("Root", R(name="n1", sset3=["set", ["a", "a"]]))],
    [ins("Root", R(name="n1", smap=["map", [["a", "1"], ["a", "2"]]]))],
    [ins("Root", R(name="n1", smap=["map", [["a"]]]))],
    [ins("Root", R(name="n1", smap=["set", []]))],
    [ins("Root", R(name="n1", smap="x"))],
    [ins("Root", R(name="n1", imap=["map", [[1, 101]]]))],
    [ins("Root", R(name="n1", imap=["map", [[1, 1], [2, 2], [3, 3]]]))],
    [ins("Root", R(name="n1", u=["uuid", "zz"]))],
    [ins("Root", R(name="n1", u="x"))],
    [ins("Root", R(name="n1", opt=["set", [1, 2]]))],
    [ins("Root", R(name="n1", i=["set", []]))],
    [ins("Root", R(name="n1", b=1))],
    [ins("Root", R(name="n1", u=["named-uuid", "nobody"]))],
    [ins("Root", R(name="n2", _uuid=["uuid", U1]))],
    [{"op": "insert", "table": "Root", "row": []}],
    [{"op": "insert", "table": "Root"}],
    [{"op": "insert", "row": {}}],
    [{"op": "frob", "table": "Root"}],
    [{"table": "Root"}],
    [5],
    [ins("Cons", R())],
    [ins("Root", R(name="n3"), **{"uuid-name": "1x"})],
    [ins("Root", R(name="n3"), uuid=["uuid", U1])],
    [ins("Root", R(name="n3"), uuid="zz")],
    [ins("Root", R(name="n3"), frob=1)],
    [ins("Root", R(name="n3"), uuid=U1), sel("Root", [["name", "==", "n3"]], ["_uuid"])],
    [ins("Root", R(name="n4"), uuid=U1)],
    [ins("Kid", R(name="k-same-uuid"), uuid=U1), ins("Root", R(name="n5", kids=["uuid", U1]))],
    [dele("Root", [["name", "==", "n5"]]), ins("Root", R(name="n5"), uuid=U1)],
    [ins("Root", R(name="c"), **{"uuid-name": "x"}),
     ins("Root", R(name="d"), **{"uuid-name": "x"})],
    [ins("Root", R(name="h", kids=["named-uuid", "z"]), uuid=U2, **{"uuid-name": "z"}),
     sel("Root", [["name", "==", "h"]], ["kids", "_uuid"]), {"op": "abort"}],
    WIPE,
    # mutate
    [ins("Root", R(name="m", i=5, r=1.5, iset=["set", [1, 2, 3]],
                   smap=["map", [["a", "1"], ["b", "2"]]], imap=["map", [[1, 1]]],
                   sset3=["set", ["x"]], rr=1))],
    [mut("Root", [], [["i", "+=", 9223372036854775807]])],
    [mut("Root", [], [["i", "-=", -9223372036854775807]])],
    [mut("Root", [], [["i", "*=", 4611686018427387903]])],
    [mut("Root", [], [["i", "*=", 2305843009213693951]])],
    [mut("Root", [], [["i", "/=", 0]])],
    [mut("Root", [], [["i", "%=", 0]])],
    [mut("Root", [], [["i", "/=", -2]]), sel("Root", [], ["i"])],
    [mut("Root", [], [["i", "%=", -3]]), sel("Root", [], ["i"])],
    [mut("Root", [], [["i", "*=", -7], ["i", "%=", 4]]), sel("Root", [], ["i"])],
    [mut("Root", [], [["r", "%=", 2]])],
    [mut("Root", [], [["r", "/=", 0]])],
    [mut("Root", [], [["r", "*=", 1e308]])],
    [mut("Root", [], [["r", "+=", 1e308]])],
    [mut("Root", [], [["r", "+=", 1]]), sel("Root", [], ["r"])],
    [mut("Root", [], [["r", "/=", 3]]), sel("Root", [], ["r"])],
    [mut("Root", [], [["iset", "*=", 0]])],
    [mut("Root", [], [["iset", "*=", 2]]), sel("Root", [], ["iset"])],
    [mut("Root", [], [["iset", "insert", ["set", [4, 5]]]]), sel("Root", [], ["iset"])],
    [mut("Root", [], [["iset", "delete", 7]])],
    [mut("Root", [], [["iset", "delete", ["set", [2, 4, 99]]]]), sel("Root", [], ["iset"])],
    [mut("Root", [], [["sset3", "insert", ["set", ["y", "z", "w"]]]])],
    [mut("Root", [], [["sset3", "delete", "x"]])],
    [mut("Root", [], [["smap", "insert", ["map", [["a", "9"], ["c", "3"]]]]]),
     sel("Root", [], ["smap"])],
    [mut("Root", [], [["smap", "delete", ["map", [["a", "9"], ["b", "2"]]]]]),
     sel("Root", [], ["smap"])],
    [mut("Root", [], [["smap", "delete", ["set", ["a", "zz"]]]]), sel("Root", [], ["smap"])],
    [mut("Root", [], [["smap", "delete", 5]])],
    [mut("Root", [], [["imap", "insert", ["map", [[2, 2], [3, 3]]]]])],
    [mut("Root", [], [["name", "insert", "x"]])],
    [mut("Root", [], [["name", "+=", "x"]])],
    [mut("Root", [], [["imm", "insert", "x"]])],
    [mut("Root", [], [["zz", "insert", "x"]])],
    [mut("Root", [], [["i", "^=", 1]])],
    [mut("Root", [], [["i", "+="]])],
    [mut("Root", [], [["i", "+=", 1.5]])],
    [mut("Root", [], [["rr", "+=", 5]])],
    [mut("Root", [], [["imap", "+=", 5]])],
    [mut("Root", [], [["rset", "%=", 5]])],
    [mut("Root", [], [["opt", "insert", ["set", [1, 2]]]])],
    [mut("Root", [], [["opt", "insert", 1]]), mut("Root", [], [["opt", "insert", 2]])],
    [mut("Root", [], [])],
    [mut("Root", [], [["_uuid", "insert", 2]])],
    [mut("Root", [], [["_version", "+=", 2]])],
    [mut("Root", [], [["e", "insert", "zz"]])],
    [mut("Root", [["zz", "==", 1]], [["yy", "+=", 1]])],
    [{"op": "mutate", "table": "Root", "where": [], "mutations": {}}],
    # select and conditions
    WIPE,
    [ins("Root", R(name="a")), ins("Root", R(name="b", opt=3, iset=["set", [1, 2]],
                                             smap=["map", [["c", "3"]]]))],
    *[[sel("Root", [["opt", f, arg]], ["name"])]
      for f in ["==", "!=", "<", "<=", ">", ">=", "includes", "excludes"]
      for arg in [["set", []], 3, 4, 2]],
    [sel("Root", [["i", "==", 1.5]])],
    [sel("Root", [["zz", "<", 1]])],
    [sel("Root", [["name", "<", "a"]])],
    [sel("Root", [["b", "<", True]])],
    [sel("Root", [["u", "<", ["uuid", U1]]])],
    [sel("Root", [["iset", "<", 1]])],
    [sel("Root", [["smap", "<", ["map", [["c", "4"]]]]])],
    [sel("Root", [["i", "includes", 0]], ["name"])],
    [sel("Root", [["i", "like", 0]])],
    [sel("Root", [["i", "=="]])],
    [sel("Root", [True], ["name"])],
    [sel("Root", [False], ["name"])],
    [{"op": "select", "table": "Root", "where": {}}],
    [sel("Root", [["i", "==", ["set", [1, 2]]]])],
    [sel("Root", [["iset", "==", ["set", [1, 2]]]], ["name"])],
    [sel("Root", [["iset", "includes", ["set", [1]]]], ["name"])],
    [sel("Root", [["iset", "excludes", ["set", [1, 9]]]], ["name"])],
    [sel("Root", [["iset", "excludes", ["set", [7, 9]]]], ["name"])],
    [sel("Root", [["smap", "includes", ["map", [["c", "3"]]]]], ["name"])],
    [sel("Root", [["smap", "includes", ["map", [["c", "4"]]]]], ["name"])],
    [sel("Root", [["smap", "excludes", ["map", [["c", "4"]]]]], ["name"])],
    [sel("Root", [["sset3", "==", ["set", ["a", "b", "c", "d", "e"]]]], ["name"])],
    [sel("Root", [], ["zz"])],
    [sel("Root", [], ["name", "name"])],
    [sel("Root", [], [])],
    [{"op": "select", "table": "Root", "where": [], "columns": "name"}],
    [{"op": "select", "table": "Root"}],
    [sel("Root", [["_uuid", "!=", ["uuid", U1]]], ["name"])],
    [sel("Root", [["e", "==", "zz"]])],
    [sel("Root", [["ri", "==", 100]])],
    [sel("Root", [["u", "==", ["named-uuid", "x"]]])],
    [sel("Root", [["iset", "includes", ["set", [1, 1]]]])],
    [sel("Root", [["name", "==", "a"], ["opt", "==", ["set", []]]], ["name"])],
    [sel("Root", [["name", "==", "a"], ["opt", "==", 3]], ["name"])],
    # update
    [upd("Root", NAME_A, R(imm="x"))],
    [upd("Root", NAME_A, R(_uuid=["uuid", U1]))],
    [upd("Root", NAME_A, R(_version=["uuid", U1]))],
    [upd("Root", NAME_A, R(zz=1))],
    [upd("Root", [["zz", "==", 1]], R(yy=1))],
    [upd("Root", NAME_A, R(i=7)), sel("Root", [["i", "==", 7]], ["name"])],
    [upd("Root", NAME_A, R(i=7))],
    [upd("Root", [["name", "==", "nobody"]], R(i=7))],
    [{"op": "update", "table": "Root", "where": NAME_A}],
    [{"op": "delete", "table": "Root"}],
    *[[{"op": op}] for op in ("wait", "delete", "select", "insert", "update", "mutate")],
    [{"op": 5}], [{"op": "insert", "table": 5}], [{"op": "insert", "table": "1x"}],
    [{"op": "insert", "table": "Root", "row": {}, "uuid-name": "x", "uuid": "zz", "frob": 1}],
    # wait
    [wait("Root", [], ["name"], "==", [R(name="a"), R(name="b")])],
    [wait("Root", [], ["name"], "==", [R(name="b"), R(name="a"), R(name="a")])],
    [wait("Root", [], ["name"], "==", [R(name="a")])],
    [wait("Root", [], ["name"], "!=", [R(name="a")])],
    [wait("Root", [], ["name"], "!=", [R(name="a"), R(name="b")])],
    [wait("Root", [], ["name"], "=", [])],
    [wait("Root", [], None, "==", [R(name="a"), R(name="b")])],
    [wait("Root", [], ["name"], "==", [R(name="a"), R(name="b")], timeout=-1)],
    [wait("Root", [], ["name"], "==", [R(name="a"), R(name="b")], timeout=1.5)],
    [wait("Root", [], ["zz"], "==", [])],
    [{"op": "wait", "table": "Root"}],
    [{"op": "wait", "table": "Root", "timeout": "x", "where": [], "until": "==", "rows": []}],
    [{"op": "wait", "table": "Root", "where": [], "until": 5, "rows": []}],
    [wait("Root", [], ["name"], "==", [5])],
    [wait("Root", [], ["name"], "!=", [], timeout=1e1)],
    [wait("Root", [], ["name"], "==", [R(zz=1)])],
    [wait("Root", [["name", "==", "nosuch"]], ["name"], "==", [])],
    [wait("Root", [["name", "==", "a"]], ["name", "i"], "==", [R(name="a", i=7)])],
    [ins("Lim", R(a=9, b="w")), wait("Root", [], ["name"], "==", [], timeout=50),
     ins("Lim", R(a=7, b="v"))],
    [wait("Root", [], ["name"], "==", [], timeout=30), {"op": "abort"}],
    [wait("Root", [], ["name"], "!=", [], timeout=30), sel("Lim", [], ["a"])],
    # commit, abort, comment, assert
    [{"op": "commit", "durable": False}],
    [{"op": "commit", "durable": True}],
    [{"op": "commit"}],
    [{"op": "commit", "durable": 1}],
    [{"op": "abort"}],
    [{"op": "abort"}, ins("Root", R(name="zz"))],
    [{"op": "comment", "comment": "hi"}, ins("Root", R(name="commented"))],
    [{"op": "comment"}],
    [{"op": "comment", "comment": 5}],
    [{"op": "assert", "lock": "l"}],
    [{"op": "assert"}],
    # commit checks: strong refs, garbage collection, maxRows, weak refs, indexes
    WIPE,
    [ins("Kid", R(name="self", parent=["named-uuid", "s"]), **{"uuid-name": "s"}),
     sel("Kid", [], ["name"])],
    [sel("Kid", [], ["name"])],
    [ins("Kid", R(name="k1"), **{"uuid-name": "k"}),
     ins("Root", R(name="p", kids=["named-uuid", "k"]))],
    [ins("Root", R(name="f", kids=["uuid", U1]))],
    [dele("Kid")],
    [dele("Kid"), dele("Root", [["name", "==", "p"]])],
    [sel("Kid", [], ["name"])],
    [ins("Kid", R(name="g1"), **{"uuid-name": "g1"}),
     ins("Kid", R(name="g2", parent=["named-uuid", "g1"]), **{"uuid-name": "g2"}),
     ins("Root", R(name="gp", kids=["named-uuid", "g2"]))],
    [sel("Kid", [], ["name"])],
    [upd("Root", [["name", "==", "gp"]], R(kids=["set", []])), sel("Kid", [], ["name"])],
    [sel("Kid", [], ["name"])],
    [ins("Lim", R(a=1)), ins("Lim", R(a=2)), ins("Lim", R(a=3))],
    [dele("Lim"), ins("Lim", R(a=1, b="x")), ins("Lim", R(a=1, b="x"))],
    [dele("Lim"), ins("Lim", R(a=1, b="x")), ins("Lim", R(a=2, b="y"))],
    [ins("Lim", R(a=3, b="x")), dele("Lim", [["a", "==", 2]])],
    [upd("Lim", [["a", "==", 2]], R(b="x"))],
    [upd("Lim", [["a", "==", 2]], R(a=5)), upd("Lim", [["a", "==", 1]], R(b="y"))],
    [upd("Lim", [], R(b="q"))],
    [upd("Lim", [["a", "==", 2]], R(b="x")), upd("Lim", [["a", "==", 1]], R(b="y"))],
    [dele("Lim", [["a", "==", 1]]), upd("Lim", [["a", "==", 2]], R(b="x"))],
    [sel("Lim", [], ["a", "b"])],
    [ins("Root", R(name="dup"))],
    [ins("Root", R(name="dup"))],
    [ins("W1", R())],
    [ins("Kid", R(name="w"), **{"uuid-name": "k"}),
     ins("W1", R(weak1=["named-uuid", "k"]))],
    [ins("Kid", R(name="wk"), **{"uuid-name": "k"}),
     ins("W1", R(x=1, weak1=["named-uuid", "k"])),
     ins("Root", R(name="wr", kids=["named-uuid", "k"], weak=["named-uuid", "k"],
                   wmap=["map", [["a", ["named-uuid", "k"]]]]))],
    [sel("W1", [], ["x"]), sel("Root", [["name", "==", "wr"]], ["name"])],
    [upd("W1", [], R(x=2, weak1=["uuid", U1]))],
    [upd("Root", [["name", "==", "wr"]], R(kids=["set", []])),
     sel("Root", [["name", "==", "wr"]], ["weak", "wmap"])],
    [sel("Root", [["name", "==", "wr"]], ["weak", "wmap"]), sel("W1", [], ["x"])],
    [ins("Kid", R(name="wk2"), **{"uuid-name": "k"}),
     ins("Root", R(name="wr2", kids=["named-uuid", "k"], weak=["named-uuid", "k"],
                   wmap=["map", [["a", ["named-uuid", "k"]], ["b", ["uuid", U1]]]]))],
    [sel("Root", [["name", "==", "wr2"]], ["weak", "wmap"])],
    [upd("Root", [["name", "==", "wr2"]], R(kids=["set", []])),
     sel("Root", [["name", "==", "wr2"]], ["weak", "wmap"])],
    [sel("Root", [["name", "==", "wr2"]], ["weak", "wmap"])],
]


def _compare(ovs: Conn, ours: Ours, nov: Normaliser, nours: Normaliser,
             ops: list) -> str:
    """Run ops on both sides, assert equal replies; return the outcome's error tag."""
    reply = ovs.request("transact", ["T", *ops])
    assert reply.get("error") is None, reply
    theirs = nov.walk(reply["result"])
    mine = nours.walk(ours.transact(ops))
    assert mine == theirs, f"ops: {orjson.dumps(ops).decode()}"
    errors = [r["error"] for r in theirs if isinstance(r, dict) and "error" in r]
    return errors[0] if errors else "ok"


def test_get_schema_matches(ovs):
    reply = ovs.request("get_schema", ["T"])
    assert parse_schema(TEST_SCHEMA).to_json() == reply["result"]


def test_scripted_transactions_match_ovsdb_server(ovs):
    ours = Ours(ovs.file_schema)
    nov, nours = Normaliser(), Normaliser()
    ovs.request("transact", ["T", *WIPE])
    for ops in SCRIPT:
        _compare(ovs, ours, nov, nours, ops)
    print(f"compared {len(SCRIPT)} scripted transactions with ovsdb-server")


# ---------------------------------------------------------------- random workload

NAMES = ["a", "b", "c", "d"]


def _value(rng: random.Random, col: str):
    choices = {
        "i": lambda: rng.choice([0, 1, -1, 7, 2**62, -(2**62)]),
        "r": lambda: rng.choice([0.5, -2.25, 3, 1e10]),
        "ri": lambda: rng.choice([["set", []], 0, 5, 10, 11]),
        "rr": lambda: rng.choice([["set", []], -1.5, 2.5, 0.25, 3]),
        "e": lambda: rng.choice([["set", []], "a1", "b", "c d", "zz"]),
        "sl": lambda: rng.choice([["set", []], "ab", "abcd", "a", "abcde"]),
        "opt": lambda: rng.choice([["set", []], 1, 2]),
        "iset": lambda: ["set", rng.sample(range(6), rng.randint(0, 4))],
        "sset3": lambda: ["set", rng.sample(["x", "y", "z", "w"], rng.randint(0, 4))],
        "smap": lambda: ["map", [[k, rng.choice("12")] for k in
                                 rng.sample(["k1", "k2", "k3"], rng.randint(0, 3))]],
        "imap": lambda: ["map", [[k, rng.choice([1, 100, 101])] for k in
                                 rng.sample(range(4), rng.randint(0, 3))]],
        "b": lambda: rng.choice([True, False]),
    }
    return choices[col]()


_MUTATIONS = [
    ("i", "+=", [1, -3, 2**62]), ("i", "*=", [2, -1, 3]), ("i", "/=", [2, -3, 0]),
    ("i", "%=", [3, -2, 0]), ("r", "-=", [0.5, 1e308]), ("r", "/=", [4, 0]),
    ("ri", "+=", [1, 5]), ("rr", "*=", [2, -1]), ("opt", "insert", [1, 2]),
    ("opt", "delete", [1, ["set", []]]), ("iset", "insert", [["set", [1, 7]], 3]),
    ("iset", "delete", [["set", [1, 2]], 9]), ("iset", "-=", [1]),
    ("sset3", "insert", ["x", ["set", ["y", "q"]]]), ("sset3", "delete", ["x", "y"]),
    ("smap", "insert", [["map", [["k1", "9"]]], ["map", [["k4", "1"]]]]),
    ("smap", "delete", [["set", ["k1"]], ["map", [["k2", "1"]]], "k3"]),
    ("imap", "insert", [["map", [[5, 5]]], ["map", [[1, 1], [2, 2]]]]),
    ("imap", "delete", [["set", [1]], ["map", [[2, 1]]]]),
]


def _where(rng: random.Random) -> list:
    pool = [
        ["name", "==", rng.choice(NAMES)], ["name", "!=", rng.choice(NAMES)],
        ["i", rng.choice(["<", "<=", ">", ">="]), rng.choice([0, 1, 7])],
        ["opt", rng.choice(["<", ">=", "==", "includes", "excludes"]), rng.choice([1, 2])],
        ["iset", rng.choice(["includes", "excludes"]), ["set", rng.sample(range(6), 2)]],
        ["smap", rng.choice(["includes", "excludes"]), ["map", [["k1", "1"]]]],
        ["sset3", "==", "x"], True, False,
    ]
    return rng.sample(pool, rng.randint(0, 2))


def _uuid(rng: random.Random) -> str:
    # Both sides get the same row UUIDs, so both walk rows in the same hash order and
    # a transaction with several bad rows reports the same one.
    return str(uuid.UUID(int=rng.getrandbits(128)))


def _random_ops(rng: random.Random) -> list[dict]:
    """One to four operations; some kinds are small groups (named-uuid references)."""
    ops: list[dict] = []
    for _ in range(rng.randint(1, 4)):
        kind = rng.choices(["one", "family", "unlink", "delkid", "wait", "w1"],
                           [12, 2, 1, 1, 1, 1])[0]
        name = rng.choice(NAMES) + str(rng.randint(0, 30))
        tag = f"n{len(ops)}"
        if kind == "one":
            ops.append(_random_op(rng))
        elif kind == "family":
            ops += [ins("Kid", R(name=name), uuid=_uuid(rng), **{"uuid-name": tag}),
                    ins("Root", R(name=name, kids=["named-uuid", tag],
                                  weak=["named-uuid", tag],
                                  wmap=["map", [["w", ["named-uuid", tag]]]]),
                        uuid=_uuid(rng))]
        elif kind == "unlink":
            ops.append(upd("Root", [["name", "==", name]], R(kids=["set", []])))
        elif kind == "delkid":
            ops.append(dele("Kid", [["name", "==", name]]))
        elif kind == "wait":
            ops.append(wait("Root", [["name", "==", name]], ["name"], rng.choice(["==", "!="]),
                            rng.choice([[], [R(name=name)]])))
        else:
            ops += [ins("Kid", R(name=name), uuid=_uuid(rng), **{"uuid-name": tag}),
                    ins("W1", R(x=rng.randint(0, 3), weak1=["named-uuid", tag]),
                        uuid=_uuid(rng))]
    return ops


def _random_op(rng: random.Random) -> dict:
    kind = rng.choices(["insert", "update", "mutate", "delete", "select", "kid", "lim"],
                       [5, 3, 4, 1, 2, 2, 2])[0]
    if kind == "insert":
        cols = rng.sample(["i", "r", "ri", "rr", "e", "sl", "opt", "iset", "sset3", "smap",
                           "imap", "b"], rng.randint(0, 4))
        row = {c: _value(rng, c) for c in cols}
        row["name"] = rng.choice(NAMES) + str(rng.randint(0, 30))
        return ins("Root", row, uuid=_uuid(rng))
    if kind == "update":
        cols = rng.sample(["i", "r", "ri", "e", "opt", "iset", "smap", "sset3"],
                          rng.randint(1, 2))
        return upd("Root", _where(rng), {c: _value(rng, c) for c in cols})
    if kind == "mutate":
        muts = []
        for _ in range(rng.randint(1, 2)):
            col, m, args = rng.choice(_MUTATIONS)
            muts.append([col, m, rng.choice(args)])
        return mut("Root", _where(rng), muts)
    if kind == "delete":
        return dele("Root", _where(rng))
    if kind == "select":
        return sel("Root", _where(rng), ["name", "i", "opt", "iset", "smap", "sset3"])
    if kind == "kid":
        return ins("Kid", R(name=rng.choice(NAMES)), uuid=_uuid(rng))
    return ins("Lim", R(a=rng.randint(0, 3), b=rng.choice("xy")), uuid=_uuid(rng))


N_RANDOM = 800


def test_random_transactions_match_ovsdb_server(ovs):
    rng = random.Random(20261124)
    ours = Ours(ovs.file_schema)
    nov, nours = Normaliser(), Normaliser()
    ovs.request("transact", ["T", *WIPE])
    outcomes: dict[str, int] = {}
    for _ in range(N_RANDOM):
        ops = _random_ops(rng)
        if rng.random() < 0.1:
            ops.append(dele("Lim"))
        tag = _compare(ovs, ours, nov, nours, ops)
        outcomes[tag] = outcomes.get(tag, 0) + 1
    # Final state: every table equal.
    _compare(ovs, ours, nov, nours, [sel(t, [], ["name"]) for t in ("Root", "Kid")] +
             [sel("Root", [], ["name", "weak", "wmap", "kids"]), sel("W1", [], ["x", "weak1"])])
    print(f"compared {N_RANDOM + 1} random transactions with ovsdb-server (seed 20261124): "
          f"{outcomes}")
    assert outcomes["ok"] > N_RANDOM // 5 and len(outcomes) >= 5  # the workload is varied


def test_explicit_uuids_are_kept(ovs):
    u = str(uuid.uuid4())
    reply = ovs.request("transact", ["T", ins("Kid", R(name="e"), uuid=u),
                                  ins("Root", R(name=u[:8], kids=["uuid", u]))])
    ours = Ours().transact([ins("Kid", R(name="e"), uuid=u),
                            ins("Root", R(name=u[:8], kids=["uuid", u]))])
    assert reply["result"][0] == ours[0] == {"uuid": ["uuid", u]}


def test_select_row_order_matches(ovs):
    """Select sorts rows by its "sort" columns (an OVS extension), all columns by
    default; with explicit UUIDs and a sort key both sides must agree exactly."""
    ours = Ours(ovs.file_schema)
    ops = [dele("Root"), *[ins("Root", R(name=n, i=i), uuid=f"{k:08x}-0000-4000-8000-000000000000")
                           for k, (n, i) in enumerate([("c", 2), ("a", 3), ("b", 1), ("d", 3)], 1)]]
    ovs.request("transact", ["T", *ops])
    ours.transact(ops)
    for q in [{"op": "select", "table": "Root", "where": [], "columns": ["name", "i"],
               "sort": ["i", "name"]},
              {"op": "select", "table": "Root", "where": [], "columns": ["_uuid", "name"],
               "sort": ["name"]},
              {"op": "select", "table": "Root", "where": [], "columns": ["i"], "sort": ["i"]},
              {"op": "select", "table": "Root", "where": [], "columns": ["name"]},
              {"op": "select", "table": "Root", "where": [], "sort": ["zz"]}]:
        assert ours.transact([q]) == ovs.request("transact", ["T", q])["result"], q


def test_update2_modify_is_our_diff(ovs):
    """What ovsdb-server puts in an update2 "modify" for each column equals
    datum_to_json(diff(old, new)) computed on our side for the same change."""
    from reference.data.datum import datum_to_json, diff

    ours = Ours(ovs.file_schema)
    ts = ours.db.schema.tables["Root"]
    cols = ["i", "opt", "iset", "smap", "sset3", "imap", "e", "r"]
    mon = Conn.to(f"tcp:127.0.0.1:{ovs.port}", timeout=20)
    try:
        u = "12345678-0000-4000-8000-00000000abcd"
        first = [dele("Root"), ins("Root", R(name="m", i=5, opt=1, iset=["set", [1, 2]],
                                             smap=["map", [["a", "1"], ["b", "2"]]],
                                             sset3=["set", ["x", "y"]], e="b", r=1.5),
                                  uuid=u)]
        ovs.request("transact", ["T", *first])
        ours.transact(first)
        mon.request("monitor_cond", ["T", "m", {"Root": [{"columns": cols}]}])
        steps = [
            R(iset=["set", [2, 3]], smap=["map", [["b", "3"], ["c", "4"]]], opt=["set", []]),
            R(i=6, sset3="x", e=["set", []], r=2),
            R(opt=7, imap=["map", [[1, 1]]], smap=["map", []], iset=["set", []]),
            R(imap=["map", [[1, 2], [3, 3]]], sset3=["set", ["z", "x", "w"]]),
        ]
        for row in steps:
            op = upd("Root", [["_uuid", "==", ["uuid", u]]], row)
            old = ours.db.get_row("Root", uuid.UUID(u))
            ours.transact([op])
            new = ours.db.get_row("Root", uuid.UUID(u))
            ovs.request("transact", ["T", op])
            note = mon.wait_for(lambda m: m.get("method") == "update2", 10)
            modify = note["params"][1]["Root"][u]["modify"]
            expect = {c: datum_to_json(diff(old[c], new[c], ts.columns[c].type),
                                       ts.columns[c].type)
                      for c in cols if old[c] != new[c]}
            assert modify == expect, row
    finally:
        mon.close()
