"""A client that stops reading, end to end through our server (issue #3's stuck client).

One client monitors a table and then reads nothing while thousands of transactions,
each rewriting a 8 KiB string in one of 50 rows, flow; another client reads all along.
Once the stuck client's socket and the server's write buffer fill, the server is told
it is backlogged and merges its updates per row instead of queueing them, so the
server's memory grows by far less than the bytes the stuck client missed.  The live
client gets every update; when the stuck client reads again, its replica, built only
from what it received, equals the database.
"""

from __future__ import annotations

import socket
import uuid

import orjson

from harness.framing import Framer
from harness.targets.server import start_server, stop_all
from reference.data.schema import parse_schema
from simulation.monitor_replica import Replica
from tests.reference.test_monitor_vs_ovs import SCHEMA
from tests.reference.wire import Conn

ROWS = 50
TXNS = 3000
PAYLOAD = 8192


def test_stuck_client_is_merged_and_converges(tmp_path):
    schema_path = tmp_path / "mon.ovsschema"
    schema_path.write_bytes(orjson.dumps(SCHEMA))
    schema = parse_schema(SCHEMA)
    server = start_server("reference", tmp_path, [schema_path],
                          extra_args=["--inactivity-probe=0"])
    stuck = None
    try:
        writer, live = Conn.to(server.remote), Conn.to(server.remote)
        uuids = [str(uuid.UUID(int=i + 1)) for i in range(ROWS)]
        writer.transact("Mon", *[{"op": "insert", "table": "T", "uuid": u,
                                  "row": {"name": "", "i": i}} for i, u in enumerate(uuids)])
        request = {"T": [{"columns": ["name", "i"]}]}
        assert live.call("monitor_cond", "Mon", "m", request)
        stuck = socket.create_connection(("127.0.0.1", server.port))
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        stuck.sendall(orjson.dumps({"id": 1, "method": "monitor_cond",
                                    "params": ["Mon", "m", request]}))
        live.barrier()
        rss_before = server.rss_bytes()
        live_updates = 0
        for k in range(TXNS):
            name = f"{k:08d}" + "x" * (PAYLOAD - 8)
            writer.transact("Mon", {"op": "update", "table": "T", "row": {"name": name},
                                    "where": [["_uuid", "==", ["uuid", uuids[k % ROWS]]]]})
            if k % 500 == 499:
                live_updates += sum(m.get("method") == "update2" for m in live.barrier())
        live_updates += sum(m.get("method") == "update2" for m in live.barrier())
        grown = server.rss_bytes() - rss_before
        missed = TXNS * PAYLOAD
        print(f"server RSS grew {grown >> 10} KiB while the stuck client missed "
              f"{missed >> 20} MiB of updates")
        assert live_updates == TXNS
        assert grown < missed // 2

        # The stuck client reads again: everything it gets must add up to the database.
        replica = Replica(schema, {"T": ("name", "i")})
        framer = Framer()
        want = {u: {"name": f"{TXNS - ROWS + i:08d}" + "x" * (PAYLOAD - 8), "i": i}
                for i, u in enumerate(uuids)}
        stuck.settimeout(10)
        got: dict = {}
        while got != want:
            data = stuck.recv(1 << 20)
            assert data, "server closed the stuck client's connection"
            for msg in framer.feed(data):
                if msg.get("id") == 1:
                    replica.apply("update2", msg["result"])
                elif msg.get("method") == "update2":
                    replica.apply("update2", msg["params"][1])
            got = {u: {"name": r["name"].keys[0], "i": r["i"].keys[0]}
                   for u, r in replica.tables["T"].items()}
    finally:
        if stuck is not None:
            stuck.close()
        stop_all([server])
