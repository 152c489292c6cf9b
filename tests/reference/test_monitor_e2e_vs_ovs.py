"""End to end: monitor bytes from our whole server against ovsdb-server 3.1.

Both servers get the same transactions, with explicit row UUIDs (an OVS extension of
"insert") so that rows have the same names on both sides, and monitors whose columns
leave out ``_version`` (the only other random UUIDs).  Then every notification and every
reply must be the same JSON with the same member order, except possibly the order of
rows within one table (it follows hash tables whose history is not always reproduced);
the share of byte-identical messages is printed.
"""

from __future__ import annotations

import random
import shutil
import uuid

import orjson
import pytest

from harness.targets.server import start_server, stop_all
from tests.reference.test_monitor_vs_ovs import SCHEMA, _ordered, _random_ops
from tests.reference.wire import Conn

pytestmark = pytest.mark.skipif(shutil.which("ovsdb-server") is None,
                                reason="ovsdb-server not installed")

COLS = ["name", "i", "o", "s", "m", "f"]
MONITORS = [
    ("monitor_cond", "a", {"T": [{"columns": COLS}], "U": [{"columns": ["k", "tags"]}]}),
    ("monitor_cond", ["id", 1], {"T": [{"columns": COLS, "where": [
        ["i", "<=", 1], ["s", "includes", 2]]}]}),
    ("monitor", "v1", {"T": {"columns": COLS}, "U": {"columns": ["k", "tags"]}}),
    ("monitor_cond_since", "since", {"T": [{"columns": ["i", "s", "m"], "where": [
        ["name", "!=", "b"]]}]}, "00000000-0000-0000-0000-000000000000"),
    ("monitor_cond", "a", {"T": [{"columns": ["i"], "where": [["name", "==", "a"]]}],
                           "U": [{"columns": ["tags"], "where": [["k", "<", 2]]}]}),
]


def _canon(msg) -> bytes:
    msg = dict(msg)
    if "method" in msg:
        msg["params"] = [*msg["params"][:-1], orjson.Fragment(_ordered(msg["params"][-1]))]
    elif isinstance(msg.get("result"), dict):
        msg["result"] = orjson.Fragment(_ordered(msg["result"]))
    elif isinstance(msg.get("result"), list) and len(msg["result"]) == 3:
        r = msg["result"]
        msg["result"] = [r[0], r[1], orjson.Fragment(_ordered(r[2]))]
    return orjson.dumps(msg)


@pytest.mark.parametrize("seed", [1, 4])
def test_monitor_bytes_match_ovsdb_server_end_to_end(tmp_path, seed):
    schema_path = tmp_path / "mon.ovsschema"
    schema_path.write_bytes(orjson.dumps(SCHEMA))
    servers = []
    try:
        for kind in ("ovsdb-server", "reference"):
            servers.append(start_server(kind, tmp_path, [schema_path]))
        sides = [[Conn.to(s.remote) for _ in range(len(MONITORS) + 1)] for s in servers]
        same = total = 0

        def compare(pair):
            # A session's monitors are notified in no particular order: sort messages.
            nonlocal same, total
            assert sorted(map(_canon, pair[0])) == sorted(map(_canon, pair[1]))
            a, b = (sorted(orjson.dumps(m) for m in msgs) for msgs in pair)
            same += len(set(a) & set(b))
            total += len(a)

        rng = random.Random(seed)
        uuids: dict[str, list[str]] = {"T": [], "U": []}
        for step in range(50):
            if step in (0, 20):
                for k, (method, mid, req, *extra) in enumerate(MONITORS):
                    mid = mid if step == 0 else ["late", mid]
                    compare([[side[k + 1].request(method, ["Mon", mid, req, *extra])]
                             for side in sides])
            ops = _random_ops(rng, ["a", "b", "c"], uuids)
            for op in ops:
                if op["op"] == "insert":
                    op["uuid"] = str(uuid.UUID(int=rng.getrandbits(128)))
                    uuids[op["table"]].append(op["uuid"])
            results = [side[0].transact("Mon", *ops) for side in sides]
            assert results[0] == results[1], ops
            for k in range(1, len(MONITORS) + 1):
                compare([side[k].barrier() for side in sides])
            if step == 30:
                change = {"T": [{"where": [["i", ">=", 2]]}]}
                got = []
                for side in sides:
                    start = len(side[2].received)
                    side[2].request("monitor_cond_change", [["id", 1], "c", change])
                    got.append(side[2].received[start:])   # updates, then the reply
                assert len(got[0]) == 2
                compare(got)
        print(f"{same}/{total} messages byte-identical to ovsdb-server's")
        assert total > 100 and same >= total * 0.9
        for side in sides:
            for c in side:
                c.close()
    finally:
        stop_all(servers)
