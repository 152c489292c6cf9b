"""monitor_cond_since with history, against a one-member ovsdb-server 3.1 cluster.

A clustered ovsdb-server keeps transaction history, so resumes with found=true can be
compared.  As in test_monitor_vs_ovs.py an oracle connection reports every row change
(v1 monitor, all columns); a second one (update3) reports each transaction's id, which
our change sets then carry.  Clients with monitor_cond_since disconnect, miss a few
transactions, and resume from their last id: the reply (found, last-txn-id, and the
missed changes) must be the same JSON as the real server's, and so must every update3.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import uuid

import orjson
import pytest

from harness.targets.server import Server, free_port, stop_all
from reference.data.schema import parse_schema
from reference.monitor import MonitorEngine
from simulation.monitor_db import SimChangeSet
from tests.reference.test_monitor_vs_ovs import SCHEMA, OracleDB, _in_txn_order, _random_ops
from tests.reference.wire import Conn

pytestmark = pytest.mark.skipif(shutil.which("ovsdb-server") is None,
                                reason="ovsdb-server not installed")

ZERO = "00000000-0000-0000-0000-000000000000"
CLIENTS = {
    1: {"T": [{"where": [["i", "<=", 1]]}], "U": [{}]},
    2: {"T": [{"columns": ["name", "s"], "where": [["s", "includes", 2], ["name", "==", "a"]]}]},
    3: {"T": [{}], "U": [{"where": [["tags", "includes", "a"]]}]},
}


def _json(msgs) -> list[bytes]:
    # JSON equality only: a clustered ovsdb-server stores its schema differently, so its
    # columns come out in another hash order than a standalone one's (which we follow).
    return sorted(orjson.dumps(m, option=orjson.OPT_SORT_KEYS) for m in msgs)


def _cluster(tmp_path, schema_path) -> Server:
    workdir = tmp_path / "ovs-cluster"
    workdir.mkdir()
    db = workdir / "db.db"
    subprocess.run(["ovsdb-tool", "create-cluster", str(db), str(schema_path),
                    f"tcp:127.0.0.1:{free_port()}"], check=True)
    return Server("ovsdb-server", workdir, [db], free_port()).start()


@pytest.mark.parametrize("seed", [3, 8])
def test_resume_from_history_matches_clustered_ovsdb_server(tmp_path, seed):
    schema_path = tmp_path / "mon.ovsschema"
    schema_path.write_bytes(orjson.dumps(SCHEMA))
    schema = parse_schema(SCHEMA)
    server = _cluster(tmp_path, schema_path)
    conns: list[Conn] = []
    try:
        db = OracleDB(schema)
        engine = MonitorEngine(schema, lambda: db, history_max_txns=100)
        writer, oracle, ids = (Conn.to(server.remote) for _ in range(3))
        conns += [writer, oracle, ids]
        every = {t: {"columns": list(ts.columns)} for t, ts in schema.tables.items()}
        assert oracle.call("monitor", "Mon", "o", every) == {}
        assert ids.call("monitor_cond_since", "Mon", "i", {t: [{}] for t in every},
                        ZERO)[0] is False
        clients: dict[int, Conn] = {}
        last: dict[int, str] = {}
        compared = 0
        found = {True: 0, False: 0}

        def connect(n: int, since: str) -> None:
            nonlocal compared
            clients[n] = Conn.to(server.remote)
            conns.append(clients[n])
            theirs = clients[n].call("monitor_cond_since", "Mon", "c", CLIENTS[n], since)
            ours = orjson.loads(orjson.dumps(
                engine.add((n, len(conns)), "c", "monitor_cond_since", CLIENTS[n], since)))
            assert ours == theirs, (n, since)
            found[theirs[0]] += 1
            last[n] = theirs[1]
            compared += 1

        sessions = {n: (n, 0) for n in CLIENTS}

        def sid(n: int):
            return sessions[n]

        rng = random.Random(seed)
        uuids: dict[str, list[str]] = {"T": [], "U": []}
        found_resumes = 0
        for step in range(45):
            if step == 1:
                for n in CLIENTS:
                    connect(n, ZERO)
                    sessions[n] = (n, len(conns))
            ops = _random_ops(rng, ["a", "b", "c"], uuids)
            if step == 0:
                # Ballast: OVS keeps no more history atoms than the database holds (see
                # the next test); a big database keeps that bound out of play here.
                ops = [{"op": "insert", "table": "U", "row": {
                    "k": 3, "tags": ["set", [f"ballast{j}", f"b{j}"]]}} for j in range(150)]
            result = writer.transact("Mon", *ops)
            assert all("error" not in (r or {}) for r in result), result
            for op, r in zip(ops, result, strict=False):
                if op["op"] == "insert":
                    uuids[op["table"]].append(r["uuid"][1])
            rows = [m for m in oracle.barrier() if m.get("method") == "update"]
            txn = [m for m in ids.barrier() if m.get("method") == "update3"]
            assert len(rows) == len(txn) <= 1
            deliveries = []
            if rows:   # (a transaction that changed nothing commits nothing)
                changes = _in_txn_order(db.absorb(rows[0]["params"][1]), ops, result)
                deliveries = engine.commit(SimChangeSet(changes,
                                                        uuid.UUID(txn[0]["params"][1])))
            ours: dict = {}
            for d in deliveries:
                for s in d.sessions:
                    ours.setdefault(s, []).append(orjson.loads(d.data))
            for n, conn in list(clients.items()):
                theirs = conn.barrier()
                assert _json(ours.get(sid(n), [])) == _json(theirs), (n, ops)
                compared += len(theirs)
                for m in theirs:
                    last[n] = m["params"][1]
            # Now and then a client drops and comes back a few transactions later.
            if step % 7 == 3:
                n = rng.choice(sorted(clients))
                clients.pop(n).close()
                engine.drop_session(sid(n))
            elif step % 7 == 6:
                for n in [n for n in CLIENTS if n not in clients]:
                    connect(n, last[n])
                    sessions[n] = (n, len(conns))
                    found_resumes += 1
        connect(1, str(uuid.UUID(int=12345)))   # an id the server never issued
        print(f"compared {compared} replies and updates, {found_resumes} resumes, "
              f"found={found}")
        assert found[True] >= 3 and found[False] >= 4 and compared > 50
    finally:
        for c in conns:
            c.close()
        stop_all([server])


SCENARIOS = {
    "modify": [[{"op": "insert", "table": "U", "row": {"k": k}}] for k in range(10)]
    + [[{"op": "update", "table": "U", "where": [["k", "==", 3]], "row": {"k": 77}}]],
    "delete": [[{"op": "insert", "table": "U", "row": {"k": k}}] for k in range(10)]
    + [[{"op": "delete", "table": "U", "where": [["k", "==", 3]]}]],
    "wide": [[{"op": "insert", "table": "U", "uuid-name": "r",
               "row": {"k": 1, "tags": ["set", [f"t{j}" for j in range(10)]]}}]]
    + [[{"op": "update", "table": "U", "where": [], "row": {"k": k}}] for k in range(2, 8)],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_history_atom_bound_matches_clustered_ovsdb_server(tmp_path, name):
    """Which past transactions can still be resumed from: OVS keeps no more history atoms
    than the database holds, charging each transaction both versions of its rows."""
    schema_path = tmp_path / "mon.ovsschema"
    schema_path.write_bytes(orjson.dumps(SCHEMA))
    schema = parse_schema(SCHEMA)
    server = _cluster(tmp_path, schema_path)
    conns: list[Conn] = []
    try:
        db = OracleDB(schema)
        engine = MonitorEngine(schema, lambda: db, history_max_txns=100)
        writer, oracle, ids = (Conn.to(server.remote) for _ in range(3))
        conns += [writer, oracle, ids]
        every = {t: {"columns": list(ts.columns)} for t, ts in schema.tables.items()}
        oracle.call("monitor", "Mon", "o", every)
        ids.call("monitor_cond_since", "Mon", "i", {t: [{}] for t in every}, ZERO)
        txn_ids = []
        for ops in SCENARIOS[name]:
            writer.transact("Mon", *ops)
            rows = [m for m in oracle.barrier() if m.get("method") == "update"]
            txn = [m for m in ids.barrier() if m.get("method") == "update3"]
            txn_ids.append(txn[0]["params"][1])
            engine.commit(SimChangeSet(db.absorb(rows[0]["params"][1]),
                                       uuid.UUID(txn_ids[-1])))
        req = {"U": [{"where": [False]}]}
        theirs = [writer.call("monitor_cond_since", "Mon", f"q{i}", req, t)[0]
                  for i, t in enumerate(txn_ids)]
        ours = [engine.add("q", f"q{i}", "monitor_cond_since", req, t)[0]
                for i, t in enumerate(txn_ids)]
        assert ours == theirs
        assert not all(theirs)   # the bound did drop something
    finally:
        for c in conns:
            c.close()
        stop_all([server])
