"""Differential test: the monitor core against the real ovsdb-server 3.1.

The real server runs the transactions.  An extra "oracle" connection monitors every
column (``_uuid`` and ``_version`` included) with a v1 monitor, so after each
transaction we know the exact old and new rows, with the server's own UUIDs; those
become the change set fed to our MonitorEngine.  Several client connections hold mixed
monitors (update, update2, update3; conditions that are indexable, not indexable, true,
false; column subsets; select flags; a monitor id shared by two sessions) and the test
changes conditions and cancels monitors mid-stream.  Every initial reply, every
notification and every error must be the same JSON as the real server's; since both
sides carry the same UUIDs no normalisation is needed.  History is off in our engine
(``history_max_txns=0``), which is what standalone ovsdb-server 3.1 does.
"""

from __future__ import annotations

import random
import shutil
import uuid

import orjson
import pytest

from harness.targets.server import start_server, stop_all
from reference.data.datum import datum_from_json
from reference.data.errors import OvsdbError
from reference.data.schema import parse_schema
from reference.monitor import MonitorEngine
from simulation.monitor_replica import Replica
from tests.reference.wire import Conn

pytestmark = pytest.mark.skipif(shutil.which("ovsdb-server") is None,
                                reason="ovsdb-server not installed")

SCHEMA = {
    "name": "Mon", "version": "1.0.0",
    "tables": {
        "T": {"isRoot": True, "columns": {
            "name": {"type": "string"},
            "i": {"type": "integer"},
            "o": {"type": {"key": "integer", "min": 0, "max": 1}},
            "s": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
            "m": {"type": {"key": "string", "value": "integer", "min": 0,
                           "max": "unlimited"}},
            "f": {"type": "real"}}},
        "U": {"isRoot": True, "columns": {
            "k": {"type": "integer"},
            "tags": {"type": {"key": "string", "min": 0, "max": "unlimited"}}}},
    },
}


class OracleDB:
    """Rows as the oracle monitor reports them: table -> uuid -> {column: Datum}."""

    def __init__(self, schema):
        self.schema = schema
        self.tables = {t: {} for t in schema.tables}

    def parse(self, table, body):
        cols = self.schema.tables[table].columns
        return {c: datum_from_json(cols[c].type, j) for c, j in body.items()}

    def absorb(self, updates) -> dict:
        """Apply one v1 <table-updates> of the oracle; return the change set."""
        changes: dict = {}
        for table, rows in updates.items():
            for u, ru in rows.items():
                key = uuid.UUID(u)
                old = self.tables[table].get(key)
                if "new" in ru:
                    new = dict(old or {})
                    new.update(self.parse(table, ru["new"]))
                    self.tables[table][key] = new
                else:
                    new = None
                    del self.tables[table][key]
                changes.setdefault(table, {})[key] = (old, new)
        return changes


def _in_txn_order(changes: dict, ops, result) -> dict:
    """The change set with rows in the order the transaction first touched them (as
    ovsdb-server's transaction keeps them), not in the oracle message's order."""
    order: dict[str, list] = {}
    for op, r in zip(ops, result, strict=False):
        if op["op"] == "insert":
            order.setdefault(op["table"], []).append(uuid.UUID(r["uuid"][1]))
        else:
            order.setdefault(op["table"], []).append(uuid.UUID(op["where"][0][2][1]))
    out = {}
    for table, rows in changes.items():
        first = [u for u in dict.fromkeys(order.get(table, [])) if u in rows]
        out[table] = {u: rows[u] for u in first + [u for u in rows if u not in first]}
    return out


def _ordered(updates) -> bytes:
    """<table-updates> as bytes that keep ovsdb-server's member order everywhere except
    among the rows of a table, whose order depends on its hash tables' history (we
    match it in most messages but not all; the JSON is the same either way)."""
    return orjson.dumps({t: dict(sorted(rows.items())) for t, rows in updates.items()})


def _sorted(msgs):
    """Messages in a canonical order (a session's monitors may be notified in any
    order), each with its members in the wire order (see _ordered)."""
    out = []
    for m in msgs:
        m = dict(m)
        m["params"] = [*m["params"][:-1], orjson.Fragment(_ordered(m["params"][-1]))]
        out.append(orjson.dumps(m))
    return sorted(out)


class Pair:
    """Drive the real server and our engine side by side."""

    def __init__(self, server, schema):
        self.schema = schema
        self.db = OracleDB(schema)
        self.engine = MonitorEngine(schema, lambda: self.db, history_max_txns=0)
        self.writer = Conn.to(server.remote)
        self.oracle = Conn.to(server.remote)
        all_cols = {t: {"columns": list(ts.columns)} for t, ts in schema.tables.items()}
        init = self.oracle.call("monitor", "Mon", "oracle", all_cols)
        assert init == {}
        self.clients: dict[int, Conn] = {}
        self.stuck: set[int] = set()
        self.compared = 0

    def client(self, n: int, server) -> Conn:
        self.clients[n] = Conn.to(server.remote)
        return self.clients[n]

    def monitor(self, n: int, method: str, mon_id, requests, *extra):
        reply = self.clients[n].request(method, ["Mon", mon_id, requests, *extra])
        try:
            ours = self.engine.add(n, mon_id, method, requests, *extra)
        except OvsdbError as e:
            assert reply["error"] == e.to_json(), (method, requests)
            return None
        assert reply["error"] is None, reply
        ours = orjson.loads(orjson.dumps(ours))
        assert ours == reply["result"], (mon_id, requests)
        if method == "monitor_cond_since":
            assert _ordered(ours[2]) == _ordered(reply["result"][2])
        else:
            assert _ordered(ours) == _ordered(reply["result"])
        self.compared += 1
        return ours

    def transact(self, *ops):
        result = self.writer.transact("Mon", *ops)
        assert all("error" not in (r or {}) for r in result), result
        notes = [m for m in self.oracle.barrier() if m.get("method") == "update"]
        assert len(notes) <= 1
        changes = self.db.absorb(notes[0]["params"][1]) if notes else {}
        changes = _in_txn_order(changes, ops, result)
        deliveries = self.engine.commit(changes) if changes else []
        ours: dict[int, list] = {}
        for d in deliveries:
            for s in d.sessions:
                ours.setdefault(s, []).append(orjson.loads(d.data))
        for n, conn in self.clients.items():
            if n in self.stuck:
                # Not read: the real server queues (and, once the socket is full, merges)
                # while our engine merges from the start.  Only the end state is compared.
                assert n not in ours
                continue
            theirs = conn.barrier()
            assert _sorted(ours.get(n, [])) == _sorted(theirs), (n, ops)
            self.compared += len(theirs)
        return result

    def stop_reading(self, n: int) -> None:
        self.stuck.add(n)
        assert self.engine.set_backlogged(n, True) == []

    def resume_reading(self, n: int, replicas: tuple[Replica, Replica]) -> None:
        """Both replicas of client n (one fed by the real server, one by our engine)
        must reach the same state."""
        self.stuck.discard(n)
        theirs = self.clients[n].barrier()
        ours = [orjson.loads(b) for b in self.engine.set_backlogged(n, False)]
        for replica, msgs in zip(replicas, (theirs, ours), strict=True):
            for m in msgs:
                method = "update" if m["method"] == "update" else "update2"
                replica.apply(method, m["params"][-1])
        assert replicas[0].tables == replicas[1].tables
        self.compared += 1

    def cond_change(self, n: int, old_id, new_id, requests):
        conn = self.clients[n]
        start = len(conn.received)
        reply = conn.request("monitor_cond_change", [old_id, new_id, requests])
        theirs = conn.received[start:-1]
        try:
            ours = [orjson.loads(b) for b in
                    self.engine.change_condition(n, old_id, new_id, requests)]
        except OvsdbError as e:
            assert reply["error"] == e.to_json(), (old_id, requests)
            return
        assert reply["error"] is None and reply["result"] == {}, reply
        assert _sorted(ours) == _sorted(theirs), (n, old_id, new_id, requests)
        self.compared += 1 + len(theirs)

    def cancel(self, n: int, mon_id):
        assert self.clients[n].call("monitor_cancel", mon_id) == {}
        self.engine.cancel(n, mon_id)

    def close(self):
        for c in [self.writer, self.oracle, *self.clients.values()]:
            c.close()


def _random_ops(rng: random.Random, names: list[str], uuids: dict[str, list[str]]):
    """One random transaction: updates/mutates/inserts/deletes over small domains."""
    ops = []
    for _ in range(rng.randint(1, 3)):
        r = rng.random()
        if r < 0.15 or not uuids["T"]:
            row = {"name": rng.choice(names), "i": rng.randint(0, 3),
                   "s": ["set", rng.sample(range(4), rng.randint(0, 3))]}
            if rng.random() < 0.5:
                row["o"] = rng.randint(0, 2)
            ops.append({"op": "insert", "table": "T", "row": row})
        elif r < 0.25:
            ops.append({"op": "delete", "table": "T",
                        "where": [["_uuid", "==", ["uuid", uuids["T"].pop(
                            rng.randrange(len(uuids["T"])))]]]})
        elif r < 0.35:
            ops.append({"op": "insert", "table": "U", "row": {
                "k": rng.randint(0, 3), "tags": ["set", rng.sample(["a", "b", "c"], 2)]}})
        elif r < 0.45 and uuids["U"]:
            ops.append({"op": "update", "table": "U",
                        "where": [["_uuid", "==", ["uuid", rng.choice(uuids["U"])]]],
                        "row": {"k": rng.randint(0, 3),
                                "tags": ["set", rng.sample(["a", "b", "c"],
                                                           rng.randint(0, 3))]}})
        else:
            target = [["_uuid", "==", ["uuid", rng.choice(uuids["T"])]]]
            col = rng.choice(["name", "i", "o", "s", "m", "f", "mut_s", "mut_m"])
            if col == "mut_s":
                ops.append({"op": "mutate", "table": "T", "where": target, "mutations": [
                    ["s", rng.choice(["insert", "delete"]), rng.randint(0, 3)]]})
                continue
            if col == "mut_m":
                ops.append({"op": "mutate", "table": "T", "where": target, "mutations": [
                    ["m", "insert", ["map", [[rng.choice("xyz"), rng.randint(0, 2)]]]]]})
                continue
            value = {"name": lambda: rng.choice(names), "i": lambda: rng.randint(0, 3),
                     "o": lambda: ["set", rng.sample(range(3), rng.randint(0, 1))],
                     "s": lambda: ["set", rng.sample(range(4), rng.randint(0, 3))],
                     "m": lambda: ["map", [[k, rng.randint(0, 2)] for k in
                                           rng.sample("xyz", rng.randint(0, 3))]],
                     "f": lambda: rng.choice([0.5, 1.0, 2.25, 1e20])}[col]()
            ops.append({"op": "update", "table": "T", "where": target, "row": {col: value}})
    return ops


@pytest.mark.parametrize("seed", [7, 11, 23])
def test_monitors_match_ovsdb_server(tmp_path, seed):
    schema_path = tmp_path / "mon.ovsschema"
    schema_path.write_bytes(orjson.dumps(SCHEMA))
    schema = parse_schema(SCHEMA)
    server = start_server("ovsdb-server", tmp_path, [schema_path])
    pair = None
    try:
        pair = Pair(server, schema)
        rng = random.Random(seed)
        names = ["a", "b", "c"]
        uuids: dict[str, list[str]] = {"T": [], "U": []}

        def run(ops):
            res = pair.transact(*ops)
            for op, r in zip(ops, res, strict=False):
                if op["op"] == "insert":
                    uuids[op["table"]].append(r["uuid"][1])

        run([{"op": "insert", "table": "T", "row": {"name": n, "i": k, "s": ["set", [k]]}}
             for k, n in enumerate(names)] +
            [{"op": "insert", "table": "U", "row": {"k": 1}}])
        for n in range(1, 8):
            pair.client(n, server)
        # Mixed monitors; ids and conditions overlap on purpose so groups are shared.
        pair.monitor(1, "monitor_cond", "c", {"T": [{"where": [["i", "==", 1]]}], "U": [{}]})
        pair.monitor(1, "monitor_cond", "c2", {"T": [{"columns": ["name"], "where": [True]}],
                                               "U": [{"where": [False]}]})
        pair.monitor(2, "monitor_cond", "c", {"T": [{"where": [["i", "==", 1]]}], "U": [{}]})
        pair.monitor(2, "monitor_cond", ["id", 2],
                     {"T": {"columns": ["i", "s"], "where": [["s", "includes", 2]]}})
        pair.monitor(3, "monitor", "v1", {
            "T": {"columns": ["i", "m", "o"], "select": {"initial": False}},
            "U": {"select": {"delete": False}}})
        pair.monitor(3, "monitor", "v1b", {"T": [{"columns": ["i"], "select": {"modify": False}},
                                                 {"columns": ["s", "f"]}]})
        pair.monitor(4, "monitor_cond_since", "since",
                     {"T": [{"where": [["i", "<", 2], ["name", "==", "b"]]}]},
                     "00000000-0000-0000-0000-000000000000")
        pair.monitor(5, "monitor_cond", "all", {"T": [{}], "U": [{}]})
        pair.monitor(5, "monitor_cond", "excl", {"T": [{"columns": ["m", "s"], "where": [
            ["s", "excludes", ["set", [0, 1]]], ["m", "includes", ["map", [["x", 1]]]]]}]})
        pair.monitor(6, "monitor_cond", "multi", {"T": [
            {"columns": ["i"], "select": {"modify": False, "insert": False}},
            {"columns": ["s", "name"], "select": {"initial": False, "delete": False},
             "where": [["i", "<=", 1]]}]})
        pair.monitor(6, "monitor_cond", "noins", {"T": [{
            "columns": ["i", "o"], "select": {"insert": False, "delete": False},
            "where": [["o", ">", 0], ["_uuid", "==", ["uuid", uuids["T"][0]]]]}]})
        # A condition on a column the monitor does not send: a change to it alone is an
        # empty modify.
        pair.monitor(6, "monitor_cond", "cnm", {"T": [{"columns": ["i"], "where": [
            ["name", "!=", "b"], ["m", "includes", ["map", [["x", 0]]]]]}]})
        pair.monitor(6, "monitor_cond_since", "s2", {"U": [{"where": [
            ["tags", "excludes", "b"]], "select": {"modify": False}}]},
            "8d7a2f3c-0000-4000-8000-000000000001")
        # Client 7 will stop reading for a while: keep replicas of what it gets.
        slow_cols = {"T": tuple(c for c in schema.tables["T"].columns if c != "_uuid")}
        slow = (Replica(schema, slow_cols), Replica(schema, slow_cols))
        first = pair.monitor(7, "monitor_cond", "slow", {"T": [{"where": [["i", "<=", 1]]}]})
        for r in slow:
            r.apply("update2", first)
        # Errors must be OVS's, word for word.
        for k, bad in enumerate(({"X": [{}]}, {"T": [{"columns": ["zz"]}]}, {"T": [{"columns": ["i", "i"]}]},
                    {"T": [{"where": [["zz", "==", 1]]}]}, {"T": [{"where": [["i", "~", 1]]}]},
                    {"T": [{"bogus": 1}]}, {"T": [{"select": {"initial": 1}}]},
                    {"T": [{"where": [["s", "<", 1]]}]},
                    {"T": [{"where": [["i", "==", "x"]]}]}, {"T": [{"where": 5}]}, {"T": 5},
                    {"T": [{"columns": "i"}]}, {"T": [{"columns": [1]}]}, [],
                    {"T": [{"select": {"bogus": True}}]}, {"T": [{"where": [["i", "=="]]}]},
                    {"T": [{"where": [5]}]}, {"T": [{"where": [["o", "<", ["set", []]]]}]},
                    {"T": [{"where": [["s", "includes", ["set", [1, 1]]]]}]},
                    {"T": [{"where": [["m", "==", ["map", [["x", "y"]]]]]}]},
                    {"T": [{"columns": ["i"]}, {"columns": ["i"]}]},
                    {"T": [{"where": [["name", "includes", "a"]]}]},
                    {"T": [{"where": [["i", "includes", ["set", []]]]}]},
                    {"T": [{"where": [["s", "includes", ["set", []]]]}]},
                    {"T": [{"where": [["name", "<", "a"]]}]}, {"T": [{}, {}]})):
            # (some are valid after all: then both sides must accept them alike)
            pair.monitor(5, "monitor_cond", f"bad{k}", bad)
        assert pair.monitor(5, "monitor_cond", "all", {"T": [{}]}) is None  # duplicate id
        assert pair.monitor(5, "monitor_cond_since", "bad", {"T": [{}]}, "garbage") is None
        assert pair.monitor(5, "monitor_cond_since", "bad", {"T": [{}]}, 5) is None
        assert pair.monitor(5, "monitor", "bad", {"T": {"where": []}}) is None

        slow_seen = [len(pair.clients[7].received)]
        for step in range(60):
            run(_random_ops(rng, names, uuids))
            if 7 not in pair.stuck:
                for m in pair.clients[7].received[slow_seen[0]:]:
                    if m.get("method") == "update2":
                        for r in slow:
                            r.apply("update2", m["params"][1])
                slow_seen[0] = len(pair.clients[7].received)
            if step == 10:
                pair.stop_reading(7)
            if step == 50:
                slow_seen[0] = len(pair.clients[7].received)
                pair.resume_reading(7, slow)
                slow_seen[0] = len(pair.clients[7].received)
                want = {str(u): {c: row[c] for c in slow_cols["T"]}
                        for u, row in pair.db.tables["T"].items() if row["i"].keys[0] <= 1}
                assert slow[0].tables["T"] == want and want
            if step == 15:
                pair.cond_change(1, "c", "c-new", {"T": [{"where": [["s", "includes", 1]]}]})
                pair.cond_change(2, "c", "c-new", {"T": [{"where": [["s", "includes", 1]]}]})
                pair.cond_change(4, "since", "since", {"T": [{"where": [["name", "!=", "b"]]}]})
            if step == 25:
                pair.cond_change(2, ["id", 2], ["id", 3], {"T": [{"where": [["i", ">=", 2]]}]})
                pair.cond_change(5, "all", "all", {"U": [{"where": [["tags", "includes", "a"]]}]})
                pair.cond_change(5, "nope", "x", {})
                pair.cond_change(5, "all", "excl", {})
                pair.cond_change(5, "all", "all", {"Q": [{"where": []}]})
                pair.cond_change(5, "all", "all", {"T": [{"columns": ["i"]}]})
                pair.cond_change(5, "all", "all", {"T": [{"where": [], "select": {"insert": False}}]})
                pair.cond_change(5, "all", "all", {"T": {"where": [["i", ">", 0]]}})
                pair.cond_change(3, "v1", "v1", {"T": [{"where": [["i", "==", 1]]}]})
            if step == 30:
                # "cnm" stops reading name/m, but OVS still tracks them (empty modifies).
                pair.cond_change(6, "cnm", "cnm", {"T": [{"where": [["i", "!=", 7]]}]})
            if step == 35:
                pair.cancel(3, "v1b")
                pair.cond_change(1, "c-new", "c-new", {"T": [{"where": [True]}],
                                                       "U": [{"where": [["k", "==", 2]]}]})
                pair.monitor(2, "monitor_cond", "late", {"T": [{"where": [["i", "==", 1]]}]})
                pair.monitor(3, "monitor_cond", "late", {"T": [{"where": [["i", "==", 1]]}]})
            if step == 45:
                pair.cond_change(1, "c-new", "c", {"T": [{"where": [False]}]})
        print(f"compared {pair.compared} replies and notifications with ovsdb-server")
        assert pair.compared > 100
    finally:
        if pair is not None:
            pair.close()
        stop_all([server])
