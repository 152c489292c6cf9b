"""A monitoring client that stops reading while 10,000 transactions flow (issue #3).

What must hold, on ovsdb-server 3.1 and on ours alike:
- the server's resident memory grows by less than ``RSS_BOUND`` although, queued one
  by one, the stuck client's updates would take ``10,000 x ~4 KiB = ~40 MB`` (so a
  server that queues instead of merging fails this);
- an active client with the same monitor receives every transaction's update, in
  order, while the other is stuck;
- once the stuck client reads again, its replica converges to the server's contents.

Ours bounds a stuck session's memory by its transport buffer's high-water mark (4 MiB)
plus one merged pending change per changed row (see reference/monitor/__init__.py).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from harness.framing import Framer
from harness.targets.server import OVN_NB, start_server
from tests.reference.wire import Conn

N_TXNS = 10_000
N_ROWS = 50
VALUE = "x" * 4000
RSS_BOUND = 24 * 1024 * 1024
PIPELINE = 64


def apply_update2(replica: dict, updates: dict) -> None:
    for uuid, change in updates.get("Logical_Switch", {}).items():
        if "delete" in change:
            replica.pop(uuid, None)
            continue
        row = change.get("initial") or change.get("insert")
        if row is not None:
            replica[uuid] = dict(row)
            continue
        current = replica[uuid]
        for col, diff in change["modify"].items():
            if col == "other_config":
                mapping = dict(current.get(col, ["map", []])[1])
                for k, v in diff[1]:
                    if mapping.get(k) == v:
                        del mapping[k]
                    else:
                        mapping[k] = v
                current[col] = ["map", sorted(mapping.items())]
            else:
                current[col] = diff


def normal(rows: dict) -> dict:
    return {u: {"name": r.get("name", ""),
                "other_config": sorted(map(tuple, r.get("other_config", ["map", []])[1]))}
            for u, r in rows.items()}


@pytest.mark.parametrize("kind", ["ovsdb-server", "reference"])
def test_stuck_client_bounded_and_converges(tmp_path, kind):
    extra = ["--inactivity-probe=0"] if kind == "reference" else []
    server = start_server(kind, tmp_path, [OVN_NB], extra)
    monitor = ["OVN_Northbound", "m", {"Logical_Switch": [
        {"columns": ["name", "other_config"]}]}]
    try:
        writer = Conn.to(server.remote, timeout=30)
        result = writer.transact("OVN_Northbound", *[
            {"op": "insert", "table": "Logical_Switch", "row": {"name": f"ls{i}"}}
            for i in range(N_ROWS)])
        uuids = [r["uuid"][1] for r in result]

        # The stuck client: a small receive buffer, monitor, then no more reading.
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        stuck.connect(("127.0.0.1", server.port))
        stuck.sendall(b'{"method":"monitor_cond","params":' +
                      __import__("orjson").dumps(monitor) + b',"id":1}')
        # The active client watches a small column that every transaction also changes,
        # so that a Python test client can keep up with the server's pace.
        active = Conn.to(server.remote, timeout=30)
        active.request("monitor_cond", ["OVN_Northbound", "m", {"Logical_Switch": [
            {"columns": ["name", "external_ids"]}]}])
        # The active client reads on its own thread, as a healthy client would: it must
        # see one update2 per transaction even while the other client is stuck.
        seen_values: list[str] = []
        stop = threading.Event()

        def read_active() -> None:
            while not stop.is_set():
                msg = active.recv(timeout=0.2)
                if msg is not None and msg.get("method") == "update2":
                    for change in msg["params"][1]["Logical_Switch"].values():
                        seen_values.append(change["modify"]["external_ids"][1][0][1])

        reader = threading.Thread(target=read_active, daemon=True)
        reader.start()
        time.sleep(0.2)  # let the stuck client's initial reply leave the server
        baseline = server.rss_bytes()

        peak = baseline
        sent = 0
        pending: list[int] = []
        while sent < N_TXNS or pending:
            while sent < N_TXNS and len(pending) < PIPELINE:
                row = uuids[sent % N_ROWS]
                rid = writer.next_id()
                writer.send({"method": "transact", "id": rid, "params": [
                    "OVN_Northbound", {"op": "update", "table": "Logical_Switch",
                                       "where": [["_uuid", "==", ["uuid", row]]],
                                       "row": {
                                           "other_config": ["map", [["k", f"{sent}{VALUE}"]]],
                                           "external_ids": ["map", [["seq", str(sent)]]]}}]})
                pending.append(rid)
                sent += 1
            writer.wait_reply(pending.pop(0))
            if sent % 500 == 0:
                peak = max(peak, server.rss_bytes())
        deadline = time.monotonic() + 60
        while len(seen_values) < N_TXNS and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        reader.join()
        peak = max(peak, server.rss_bytes())
        # Every transaction's update, in commit order (the values were written in order).
        assert [int(v) for v in seen_values] == list(range(N_TXNS))
        assert peak - baseline < RSS_BOUND, (
            f"{kind}: server RSS grew by {(peak - baseline) >> 20} MiB with a stuck client")

        # Resume reading: the replica must converge to the current contents.
        framer, replica = Framer(), {}
        stuck.settimeout(2.0)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 1.0:
            try:
                data = stuck.recv(1 << 20)
            except socket.timeout:
                continue
            if not data:
                break
            quiet_since = time.monotonic()
            for msg in framer.feed(data):
                if msg.get("id") == 1:
                    apply_update2(replica, msg["result"])
                elif msg.get("method") == "update2":
                    apply_update2(replica, msg["params"][1])
        rows = writer.transact("OVN_Northbound", {"op": "select", "table": "Logical_Switch",
                               "where": [], "columns": ["_uuid", "name", "other_config"]})[0]["rows"]
        truth = {r["_uuid"][1]: r for r in rows}
        assert normal(replica) == normal(truth)
        stuck.close()
    finally:
        server.stop()
