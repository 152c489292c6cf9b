"""Schema-driven fuzzing, differential against ovsdb-server 3.1: random transactions
built from a real schema's column types (OVN Northbound, Open_vSwitch), mostly valid,
sometimes out of range, run through reference.txn.engine.execute and the real server; replies
must match after normalisation (see test_txn_vs_ovs)."""

from __future__ import annotations

import random
import uuid

import orjson
import pytest

from harness.targets.server import OVN_NB, VSWITCH, start_server, stop_all
from reference.data.database import Database
from reference.data.schema import parse_schema
from reference.data.types import BaseType, Type
from reference.txn.engine import execute
from tests.reference.test_txn_vs_ovs import Normaliser
from tests.reference.wire import Conn

N_TXNS = 150
INT_EDGES = [0, 1, -1, 7, 4095, 4096, 65535, 2**31, -(2**31)]


class Fuzzer:
    def __init__(self, schema_json: dict, seed: int):
        self.schema = parse_schema(schema_json)
        self.rng = random.Random(seed)
        self.known: dict[str, list[str]] = {t: [] for t in self.schema.tables}
        self.strings = ["a", "b", "x1", "", "lr0", "10.0.0.1", "aa:bb:cc:dd:ee:ff"]

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def atom(self, base: BaseType):
        rng = self.rng
        if base.enum is not None and rng.random() < 0.9:
            a = rng.choice(base.enum.keys)
            return ["uuid", str(a)] if base.type == "uuid" else a
        t = base.type
        if t == "integer":
            if rng.random() < 0.8 and base.min_integer > -(2**62) and base.max_integer < 2**62:
                return rng.randint(base.min_integer, base.max_integer)
            return rng.choice(INT_EDGES)
        if t == "real":
            return rng.choice([0, 0.5, -1.25, 100, 1e9])
        if t == "boolean":
            return rng.random() < 0.5
        if t == "string":
            return rng.choice(self.strings)
        if base.ref_table and self.known[base.ref_table] and rng.random() < 0.85:
            return ["uuid", rng.choice(self.known[base.ref_table])]
        return ["uuid", self.uuid()]

    def datum(self, t: Type):
        rng = self.rng
        if t.n_min == 1 and t.n_max == 1 and t.value is None:
            return self.atom(t.key)
        n = rng.randint(t.n_min, min(t.n_max, 3))
        if t.value is None:
            return ["set", [self.atom(t.key) for _ in range(n)]]
        return ["map", [[self.atom(t.key), self.atom(t.value)] for _ in range(n)]]

    def where(self, ts) -> list:
        rng = self.rng
        out = []
        for _ in range(rng.randint(0, 2)):
            name = rng.choice(list(ts.user_columns))
            t = ts.columns[name].type
            fn = rng.choice(["==", "!=", "includes", "excludes", "<", ">="])
            if fn in ("<", ">=") and not (t.key.type in ("integer", "real")
                                          and t.value is None and t.n_max == 1):
                fn = "=="
            arg_t = Type(t.key, t.value, 0, t.n_max) if fn in ("includes", "excludes") else t
            if fn in ("<", ">="):
                arg_t = Type(t.key)
            out.append([name, fn, self.datum(arg_t)])
        return out

    def op(self) -> dict:
        rng = self.rng
        tname = rng.choice(list(self.schema.tables))
        ts = self.schema.tables[tname]
        cols = list(ts.user_columns)
        kind = rng.choices(["insert", "update", "mutate", "delete", "select"],
                           [6, 2, 2, 1, 1])[0]
        if kind == "insert":
            row = {c: self.datum(ts.columns[c].type)
                   for c in rng.sample(cols, min(len(cols), rng.randint(0, 4)))}
            if rng.random() < 0.3:  # the server's own UUID (and its fast path, if any)
                return {"op": "insert", "table": tname, "row": row}
            u = self.uuid()
            self.known[tname].append(u)
            return {"op": "insert", "table": tname, "row": row, "uuid": u}
        if kind == "update":
            c = rng.choice(cols)
            return {"op": "update", "table": tname, "where": self.where(ts),
                    "row": {c: self.datum(ts.columns[c].type)}}
        if kind == "mutate":
            muts = []
            for c in rng.sample(cols, min(len(cols), rng.randint(1, 2))):
                t = ts.columns[c].type
                if t.key.type in ("integer", "real") and t.value is None and rng.random() < .5:
                    muts.append([c, rng.choice(["+=", "-=", "*=", "/="]),
                                 rng.choice([1, 2, -3])])
                else:
                    muts.append([c, rng.choice(["insert", "delete"]),
                                 self.datum(Type(t.key, t.value, 0, t.n_max))])
            return {"op": "mutate", "table": tname, "where": self.where(ts), "mutations": muts}
        if kind == "delete":
            return {"op": "delete", "table": tname, "where": self.where(ts)}
        return {"op": "select", "table": tname, "where": self.where(ts),
                "columns": rng.sample(cols, min(len(cols), 3))}


@pytest.mark.parametrize("schema_path", [OVN_NB, VSWITCH], ids=["ovn-nb", "vswitch"])
def test_schema_fuzz_matches_ovsdb_server(tmp_path, schema_path):
    server = start_server("ovsdb-server", tmp_path, [schema_path])
    client = Conn.to(server.remote, timeout=20)
    try:
        file_schema = orjson.loads(server.dbfiles[0].read_bytes().split(b"\n")[1])
        name = file_schema["name"]
        db = Database(parse_schema(file_schema))
        fz = Fuzzer(file_schema, seed=7)
        nov, nours = Normaliser(), Normaliser()
        outcomes: dict[str, int] = {}
        for _ in range(N_TXNS):
            ops = [fz.op() for _ in range(fz.rng.randint(1, 3))]
            theirs = nov.walk(client.request("transact", [name, *ops])["result"])
            out = execute(db, ops)
            if out.changes is not None:
                db.apply(out.changes)
            mine = nours.walk(orjson.loads(orjson.dumps(out.result)))
            assert mine == theirs, orjson.dumps(ops).decode()
            errs = [r["error"] for r in theirs if isinstance(r, dict) and "error" in r]
            tag = errs[0] if errs else "ok"
            outcomes[tag] = outcomes.get(tag, 0) + 1
        print(f"fuzzed {N_TXNS} transactions on {name} against ovsdb-server: {outcomes}")
        assert outcomes.get("ok", 0) > N_TXNS // 10
    finally:
        client.close()
        stop_all([server])
