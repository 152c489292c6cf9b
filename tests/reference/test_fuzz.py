"""Fuzz: thousands of generated bad inputs, then a well-behaved client must still be
served and the database must be unchanged.

Inputs come from one seeded generator (the seed is printed): byte-level mutations of
valid messages (flips, deletions, duplications, insertions of JSON punctuation and bad
bytes, truncations, concatenations) and structural mutations (a random node of a valid
message replaced by a random JSON value, or wrapped in deep nesting), so they hit the
framer, the JSON-RPC layer and every method's parameter checks.  Transactions on the
test database always carry an "abort" op, so none of them may change it.  Run against
both server kinds: the real ovsdb-server proves the test itself.
"""

from __future__ import annotations

import json
import random
import re
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from harness.framing import Framer, FramingError
from harness.targets.server import start_server
from tests.reference.wire import Conn, ConnectionClosed, normalise

SCHEMA = Path(__file__).parent / "schemas" / "crucible.ovsschema"
DB = "Crucible"
SEED = 20261124
COUNT = 3000  # inputs per server kind
TIME_BUDGET = 60.0  # seconds per server kind, whatever COUNT says
BATCH = 3
ABORT = {"op": "abort"}

VALID: list[Any] = [
    {"method": "list_dbs", "params": [], "id": 1},
    {"method": "get_schema", "params": [DB], "id": 2},
    {"method": "get_server_id", "params": [], "id": 3},
    {"method": "echo", "params": ["x", 1, [True, None]], "id": "e"},
    {"method": "transact", "params": [DB, {"op": "select", "table": "Root", "where":
                                           [["i", ">", 1]], "columns": ["name"]}, ABORT],
     "id": 4},
    {"method": "transact", "params": [DB, {"op": "insert", "table": "Root", "row": {
        "name": "fz", "iset": ["set", [1, 2]], "smap": ["map", [["a", "b"]]]},
        "uuid-name": "n"}, {"op": "mutate", "table": "Root", "where": [],
                            "mutations": [["i", "+=", 1]]}, ABORT], "id": 5},
    {"method": "transact", "params": [DB, {"op": "update", "table": "Pair", "where": [],
                                           "row": {"b": 3}}, {"op": "delete", "table":
                                                              "Capped", "where": []}, ABORT],
     "id": 6},
    {"method": "transact", "params": ["_Server", {"op": "insert", "table": "Database",
                                                  "row": {"name": "x"}}], "id": 7},
    {"method": "monitor", "params": [DB, "m", {"Root": {"columns": ["name"]}}], "id": 8},
    {"method": "monitor_cond", "params": [DB, "c", {"Root": [{"where": [["i", "==", 1]]}]}],
     "id": 9},
    {"method": "monitor_cond_since", "params": [DB, "s", {"Leaf": {}},
                                                "00000000-0000-0000-0000-000000000000"],
     "id": 10},
    {"method": "monitor_cond_change", "params": ["c", "c2", {"Root": [{"where": []}]}],
     "id": 11},
    {"method": "monitor_cancel", "params": ["m"], "id": 12},
    {"method": "lock", "params": ["L"], "id": 13},
    {"method": "steal", "params": ["L"], "id": 14},
    {"method": "unlock", "params": ["L"], "id": 15},
    {"method": "set_db_change_aware", "params": [True], "id": 16},
    {"method": "cancel", "params": [4], "id": None},
    {"result": [], "error": None, "id": "echo"},
]
PUNCT = [b"{", b"}", b"[", b"]", b'"', b"\\", b",", b":", b"\x00", b"\xff", b"\xc3",
         b"\xed\xa0\x80", b"1e999", b"null", b"-", b"9" * 30, b"\\u", b"\n", b"true"]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if depth > 3 or r < 0.5:
        return rng.choice([None, True, False, 0, -1, 2 ** 63, 1.5, "", "Root", "x" * 50,
                           "\u00e9", "_uuid", ["uuid", "zz"], ["set", []], ["map", [[1]]]])
    if r < 0.75:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(["op", "table", "where", "row", "columns", "x", "method", "params",
                        "id"]): random_json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _replace_random_node(rng: random.Random, v: Any) -> Any:
    """A copy of `v` with one random node replaced (or deeply wrapped)."""
    if isinstance(v, (list, dict)) and v and rng.random() < 0.7:
        if isinstance(v, list):
            i = rng.randrange(len(v))
            return v[:i] + [_replace_random_node(rng, v[i])] + v[i + 1:]
        k = rng.choice(list(v))
        out = dict(v)
        if rng.random() < 0.15:
            del out[k]
        else:
            out[k] = _replace_random_node(rng, v[k])
        return out
    if rng.random() < 0.1:
        node: Any = v
        for _ in range(rng.choice([10, 100, 1100])):
            node = [node]
        return node
    return random_json(rng)


def _dump(v: Any) -> bytes:
    try:
        return orjson.dumps(v)
    except TypeError:  # nested deeper than orjson writes
        return json.dumps(v, separators=(",", ":")).encode()


def mutate(rng: random.Random) -> bytes:
    base = rng.choice(VALID)
    if rng.random() < 0.45:
        return _dump(_replace_random_node(rng, base))
    data = bytearray(orjson.dumps(base))
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(6)
        i = rng.randrange(len(data) + 1)
        if kind == 0 and data:
            data[min(i, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del data[i:i + rng.randint(1, 8)]
        elif kind == 2:
            data[i:i] = data[i:i + rng.randint(1, 8)]
        elif kind == 3:
            data[i:i] = rng.choice(PUNCT)
        elif kind == 4:
            del data[i:]
        else:
            data += orjson.dumps(rng.choice(VALID))
    return bytes(data)


def _values(data: bytes) -> list[Any] | None:
    """The messages in `data`, or None if any part does not frame, parse or end."""
    framer = Framer()
    try:
        values = framer.feed(data)
    except FramingError:
        return None
    return None if framer.buffered else values


def acceptable(data: bytes) -> bool:
    """Inputs allowed into the run.  A write to the test database must still carry an
    abort op; `monitor` with fewer than three parameters is left out because it
    crashes ovsdb-server 3.1 (SIGSEGV), which would end the run on the real server
    (also when it hides behind another message, or in a message that does not parse,
    since the server acts on what came before the error)."""
    if DB.encode() in data and b'"op":"abort"' not in data and b"transact" in data:
        return False
    if b'"monitor"' not in data:
        return True
    values = _values(data)
    if values is None:
        return False
    for msg in values:
        if isinstance(msg, dict) and msg.get("method") == "monitor":
            params = msg.get("params")
            if not (isinstance(params, list) and len(params) >= 3):
                return False
    return True


def generate(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    while len(out) < count:
        data = mutate(rng)
        if acceptable(data):
            out.append(data)
    return out


def snapshot(conn: Conn) -> list:
    tables = ["Root", "Child", "Leaf", "Capped", "Pair", "Holder"]
    res = conn.transact(DB, *[{"op": "select", "table": t, "where": []} for t in tables])
    return [sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in x["rows"])
            for x in res]


def seed_data(conn: Conn) -> None:
    res = conn.transact(DB, {"op": "insert", "table": "Root", "uuid-name": "r", "row": {
        "name": "keep", "i": 5, "children": ["named-uuid", "c"]}},
        {"op": "insert", "table": "Child", "uuid-name": "c", "row": {"name": "kid"}},
        {"op": "insert", "table": "Pair", "row": {"a": "p", "b": 1}},
        {"op": "insert", "table": "Capped", "row": {"k": 1}})
    assert all("error" not in r for r in res), res


def test_generator_is_deterministic_and_varied():
    a, b = generate(SEED, 300), generate(SEED, 300)
    assert a == b
    assert len(set(a)) > 250
    parsed = 0
    for d in a:
        try:
            orjson.loads(d)
            parsed += 1
        except orjson.JSONDecodeError:
            pass
    assert 50 < parsed < 280  # both well-formed JSON with bad content, and broken JSON
    assert generate(SEED + 1, 50) != a[:50]


def test_acceptable_filters_writes_without_abort():
    bad = orjson.dumps({"method": "transact", "params": [DB, {"op": "insert",
                                                              "table": "Root", "row": {}}]})
    assert not acceptable(bad)
    assert acceptable(orjson.dumps(VALID[5]))
    assert not acceptable(b'{"method":"monitor","params":["Crucible","m"],"id":1}')
    assert not acceptable(b'{"method":"lock","params":["L"],"id":13}'
                          b'{"method":"monitor","params":["Crucible",{}],"id":8}')
    assert acceptable(b'{"method":"monitor","params":["Crucible","m",{}],"id":8}')


@pytest.mark.parametrize("kind", ["ovsdb-server", "reference"])
def test_fuzz_then_server_still_serves_and_db_unchanged(kind, tmp_path):
    inputs = generate(SEED, COUNT)
    server = start_server(kind, tmp_path, [SCHEMA])
    try:
        with Conn.to(server.remote) as good:
            seed_data(good)
            before = snapshot(good)
            schema_before = good.call("get_schema", DB)
        sent = replies = stuck = 0
        deadline = time.monotonic() + TIME_BUDGET
        # Inputs go in batches of BATCH on one connection (so state carries, e.g. a
        # monitor then its cancel); then we close our side, and the server must answer
        # what it can and close too.  No guessing at what a half message means.
        for b in range(0, len(inputs), BATCH):
            if time.monotonic() > deadline:
                break
            with Conn.to(server.remote, timeout=10) as conn:
                for data in inputs[b:b + BATCH]:
                    try:
                        conn.send_raw(data)
                    except ConnectionClosed:
                        break
                    sent += 1
                try:
                    assert conn.sock is not None
                    conn.sock.shutdown(socket.SHUT_WR)
                    while conn.recv(10) is not None:
                        pass
                    stuck += 1  # nothing for 10 s and still open
                except (ConnectionClosed, OSError):
                    pass
                replies += sum(1 for m in conn.received if isinstance(m, dict)
                               and "method" not in m)
        print(f"fuzz {kind}: seed {SEED}, {sent} inputs sent, {replies} replies, "
              f"{stuck} connections left open after our side closed")
        assert sent >= min(COUNT, 1000), f"only {sent} inputs within {TIME_BUDGET}s"
        assert replies > sent // 20  # many inputs did reach the method layer
        assert stuck == 0, f"{kind} kept {stuck} half-closed connections open"
        assert server.alive(), \
            f"{kind} died: {server.log()[-2000:]}"
        with Conn.to(server.remote) as good:
            assert good.call("list_dbs") == [DB, "_Server"]
            assert good.call("get_schema", DB) == schema_before
            assert snapshot(good) == before
            res = good.transact(DB, {"op": "insert", "table": "Leaf", "row": {"tag": "t"}},
                                {"op": "delete", "table": "Root", "where": [
                                    ["name", "==", "keep"]]})
            assert res[1] == {"count": 1}, res
            assert good.call("echo", "still") == ["still"]
    finally:
        server.stop()


# -- the same inputs, one per connection, compared with ovsdb-server ----------------------

DIFF_COUNT = 1500  # one connection each, per server kind


def _outcomes(kind: str, workdir: Path, inputs: list[bytes]) -> list:
    server = start_server(kind, workdir, [SCHEMA])
    out = []
    try:
        with Conn.to(server.remote) as good:
            seed_data(good)
        for data in inputs:
            with Conn.to(server.remote, timeout=10) as c:
                try:
                    c.send_raw(data)
                    assert c.sock is not None
                    c.sock.shutdown(socket.SHUT_WR)
                    state = "open" if c.recv(10) is None else "talking"
                    while c.recv(10) is not None:
                        pass
                except (ConnectionClosed, OSError):
                    state = "closed"
                out.append((normalise(c.received, c.received, [data.decode(errors="replace")]),
                            state))
    finally:
        server.stop()
    return out


_KNOWN_REWRITES = [
    # (what to call it, rewrite of ovsdb-server's answer, rewrite of ours)
    ("2**63 written as 9.223372036854776e+18, not %.15g",
     lambda a: a.replace("9.22337203685478e+18", "2**63"),
     lambda b: b.replace("9.223372036854776e+18", "2**63")),
    ("steal/unlock parameter errors say 'lock request'",
     lambda a: re.sub(r"'(steal|unlock) request params", "'lock request params", a),
     lambda b: b),
    ("which unknown table is named first in a monitor request (OVS: hash order)",
     lambda a: re.sub(r"no table named \w+", "no table named T", a),
     lambda b: re.sub(r"no table named \w+", "no table named T", b)),
]


def _known_class(ovs: object, ours: object) -> str | None:
    """Which already-reported differences explain this pair, if any."""
    a, b = str(ovs), str(ours)
    if "surrogates not allowed" in b and "internal error" in b:
        return "non-UTF-8 bytes in a string give an internal error"
    used = []
    for name, fa, fb in _KNOWN_REWRITES:
        a2, b2 = fa(a), fb(b)
        if (a2, b2) != (a, b):
            used.append(name)
            a, b = a2, b2
    return " + ".join(used) if used and a == b else None


def test_fuzz_outcomes_match_ovsdb_server(tmp_path):
    inputs = generate(SEED + 7, DIFF_COUNT)
    ovs = _outcomes("ovsdb-server", tmp_path / "a", inputs)
    ours = _outcomes("reference", tmp_path / "b", inputs)
    unexplained, known = [], {}
    for data, a, b in zip(inputs, ovs, ours, strict=True):
        if a != b:
            why = _known_class(a, b)
            if why is None:
                unexplained.append(f"{data[:200]!r}\n  ovsdb-server: {str(a)[:300]}\n"
                                   f"  reference:    {str(b)[:300]}")
            else:
                known[why] = known.get(why, 0) + 1
    assert not unexplained, f"{len(unexplained)} of {DIFF_COUNT} inputs answered " \
        f"differently:\n" + "\n".join(unexplained[:8])
    if known:
        pytest.skip("reference: known differences only: " +
                    "; ".join(f"{k} ({n}x)" for k, n in sorted(known.items())))
