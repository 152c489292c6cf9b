"""FaultProxy: forwarding, each fault, and each lie of the sans-I/O Liar.

Network tests run against a tiny asyncio echo server on 127.0.0.1; lies against a real
ovsdb-server are in test_bug_zoo.py.  Nothing asserts how long anything took: a held or
discarded message is checked by polling for a bounded time and finding nothing.
"""

from __future__ import annotations

import asyncio
import copy

import orjson
import pytest

from harness.liar import LIES, Liar
from harness.proxy import FaultProxy

pytestmark = pytest.mark.timeout(60)


class Echo:
    """Upstream test server: echoes every byte back and remembers what it got."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                self.received += data
                w.write(data)
                await w.drain()
        except OSError:
            pass
        finally:
            w.close()

    async def __aenter__(self) -> Echo:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def _nothing_within(reader: asyncio.StreamReader, seconds: float = 0.3) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(100), seconds)
    except asyncio.TimeoutError:
        return True
    return data == b""


async def _connect(proxy: FaultProxy):
    return await asyncio.open_connection("127.0.0.1", proxy.port)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 45))


@pytest.mark.parametrize("lying", [False, True])
def test_forwards_both_ways(lying):
    async def main():
        async with Echo() as echo, FaultProxy("127.0.0.1", echo.port, lying=lying) as p:
            r, w = await _connect(p)
            msgs = [{"id": i, "method": "echo", "params": ["x" * i]} for i in range(50)]
            w.write(b"".join(orjson.dumps(m) for m in msgs))
            await w.drain()
            want = len(b"".join(orjson.dumps(m) for m in msgs))
            got = await asyncio.wait_for(r.readexactly(want), 10)
            assert got == b"".join(orjson.dumps(m) for m in msgs)
            assert p.connections == 1 and p.accepted == 1
            w.close()
    run(main())


def test_delay_holds_data_then_delivers_in_order():
    async def main():
        async with Echo() as echo, FaultProxy("127.0.0.1", echo.port) as p:
            r, w = await _connect(p)
            p.set_delay(1500, "s2c")
            w.write(b'{"a":1}')
            w.write(b'{"b":2}')
            await w.drain()
            assert await _nothing_within(r, 0.3)
            got = await asyncio.wait_for(r.readexactly(14), 10)
            assert got == b'{"a":1}{"b":2}'
            assert [e[1] for e in p.events] == ["delay"]
            w.close()
    run(main())


@pytest.mark.parametrize("direction", ["c2s", "s2c", "both"])
def test_blackhole_holds_traffic_until_heal(direction):
    async def main():
        async with Echo() as echo, FaultProxy("127.0.0.1", echo.port) as p:
            r, w = await _connect(p)
            w.write(b'{"warm":1}')
            assert await asyncio.wait_for(r.readexactly(10), 10) == b'{"warm":1}'
            p.blackhole(direction)
            w.write(b'{"held":1}')
            await w.drain()
            assert await _nothing_within(r)
            # One-way: with s2c cut the server still got the message; with c2s it did not.
            assert (b"held" in echo.received) == (direction == "s2c")
            assert p.held_bytes > 0 and p.dropped_bytes == 0
            await p.heal()
            w.write(b'{"back":1}')
            # Like TCP after a partition heals: the held bytes come first, then the rest.
            got = await asyncio.wait_for(r.readexactly(20), 10)
            assert got == b'{"held":1}{"back":1}'
            w.close()
    run(main())


def test_blackhole_lose_discards_traffic():
    async def main():
        async with Echo() as echo, FaultProxy("127.0.0.1", echo.port, lying=True) as p:
            r, w = await _connect(p)
            p.blackhole("c2s", lose=True)
            w.write(b'{"lost":1}')
            await w.drain()
            assert await _nothing_within(r)
            assert p.dropped_bytes > 0 and b"lost" not in echo.received
            await p.heal()
            w.write(b'{"back":1}')
            assert await asyncio.wait_for(r.readexactly(10), 10) == b'{"back":1}'
            w.close()
    run(main())


def test_reset_closes_every_connection():
    async def main():
        async with Echo() as echo, FaultProxy("127.0.0.1", echo.port) as p:
            conns = [await _connect(p) for _ in range(3)]
            for r, w in conns:
                w.write(b"{}")
                assert await asyncio.wait_for(r.readexactly(2), 10) == b"{}"
            p.reset()
            for r, _ in conns:
                try:
                    data = await asyncio.wait_for(r.read(10), 10)
                except ConnectionResetError:
                    data = b""
                assert data == b""
            assert p.connections == 0
            # New connections still work after a reset.
            r, w = await _connect(p)
            w.write(b"[]")
            assert await asyncio.wait_for(r.readexactly(2), 10) == b"[]"
            w.close()
    run(main())


def test_stop_and_resume_accepting():
    async def main():
        async with Echo() as echo, FaultProxy("127.0.0.1", echo.port) as p:
            port = p.port
            await p.stop_accepting()
            with pytest.raises(OSError):
                await _connect(p)
            await p.resume_accepting()
            assert p.port == port
            r, w = await _connect(p)
            w.write(b"{}")
            assert await asyncio.wait_for(r.readexactly(2), 10) == b"{}"
            w.close()
    run(main())


def test_unreachable_upstream_closes_client():
    async def main():
        echo = Echo()
        async with echo:
            port = echo.port
        async with FaultProxy("127.0.0.1", port) as p:
            r, w = await _connect(p)
            assert await asyncio.wait_for(r.read(10), 10) == b""
            w.close()
    run(main())


def test_lie_needs_lying_mode():
    p = FaultProxy("127.0.0.1", 1)
    with pytest.raises(RuntimeError):
        p.lie("drop_update")
    with pytest.raises(ValueError):
        Liar().arm("tell_the_truth")


# -- the Liar, message by message -----------------------------------------------------

def upd3(n: int, table: str = "Item") -> dict:
    return {"id": None, "method": "update3",
            "params": [["m"], f"txn{n}", {table: {f"u{n}": {"insert": {"value": n}}}}]}


def feed(liar: Liar, msgs: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    out = []
    for d, m in msgs:
        out += liar.on_message(1, d, copy.deepcopy(m))
    return out


def test_liar_without_lies_passes_everything():
    liar = Liar()
    msgs = [("s2c", upd3(i)) for i in range(5)] + [("c2s", {"id": 1, "method": "echo",
                                                             "params": []})]
    assert feed(liar, msgs) == msgs
    assert liar.told == []


def test_liar_drop_update_skips_then_drops_one():
    liar = Liar()
    liar.arm("drop_update", skip=1)
    out = feed(liar, [("s2c", upd3(1, "Cell")), ("s2c", upd3(2)), ("s2c", upd3(3)),
                      ("s2c", upd3(4))])
    assert [m["params"][1] for _, m in out] == ["txn1", "txn2", "txn4"]
    assert [t["lie"] for t in liar.told] == ["drop_update"]


def test_liar_reorder_updates():
    liar = Liar()
    liar.arm("reorder_updates")
    out = feed(liar, [("s2c", upd3(1)), ("s2c", upd3(2)), ("s2c", upd3(3))])
    assert [m["params"][1] for _, m in out] == ["txn2", "txn1", "txn3"]


def test_liar_reorder_flushes_a_lonely_update():
    liar = Liar()
    liar.arm("reorder_updates")
    assert liar.on_message(1, "s2c", upd3(1), now=10.0) == []
    assert liar.flush(1, 10.5, hold_s=2.0) == []
    assert [m["params"][1] for _, m in liar.flush(1, 12.5, hold_s=2.0)] == ["txn1"]


def test_liar_duplicate_update():
    liar = Liar()
    liar.arm("duplicate_update")
    out = feed(liar, [("s2c", upd3(1)), ("s2c", upd3(2))])
    assert [m["params"][1] for _, m in out] == ["txn1", "txn1", "txn2"]


def test_liar_add_row():
    liar = Liar(seed=3)
    liar.arm("add_row", row={"name": "zz", "value": -1, "tag": "nope"})
    out = feed(liar, [("s2c", upd3(1))])
    rows = out[0][1]["params"][2]["Item"]
    assert len(rows) == 2
    extra = [v for k, v in rows.items() if k != "u1"]
    assert extra == [{"insert": {"name": "zz", "value": -1, "tag": "nope"}}]


def _select(rid: int) -> dict:
    return {"id": rid, "method": "transact",
            "params": ["Crucible", {"op": "select", "table": "Cell",
                                    "where": [["key", "==", "k"]], "columns": ["value"]}]}


def _rows(rid: int, v: int) -> dict:
    return {"id": rid, "result": [{"rows": [{"value": v}]}], "error": None}


def test_liar_stale_read_replays_an_earlier_different_reply():
    liar = Liar()
    liar.arm("stale_read")
    out = feed(liar, [("c2s", _select(1)), ("s2c", _rows(1, 5)),
                      ("c2s", _select(2)), ("s2c", _rows(2, 5)),   # same: nothing stale
                      ("c2s", _select(3)), ("s2c", _rows(3, 7)),   # replaced by 5
                      ("c2s", _select(4)), ("s2c", _rows(4, 8))])  # lie used up
    replies = [m for d, m in out if d == "s2c"]
    assert [r["result"][0]["rows"][0]["value"] for r in replies] == [5, 5, 5, 8]
    assert [r["id"] for r in replies] == [1, 2, 3, 4]
    assert [t["lie"] for t in liar.told] == ["stale_read"]


def test_liar_fake_ack_answers_a_write_itself():
    liar = Liar()
    liar.arm("fake_ack", table="Cell")
    write = {"id": 9, "method": "transact",
             "params": ["Crucible", {"op": "update", "table": "Cell",
                                     "where": [["key", "==", "k"]], "row": {"value": 3}},
                        {"op": "insert", "table": "Cell", "row": {"key": "z"}}]}
    out = feed(liar, [("c2s", _select(1)), ("c2s", write), ("c2s", dict(write, id=10))])
    assert [(d, m["id"]) for d, m in out] == [("c2s", 1), ("s2c", 9), ("c2s", 10)]
    fake = out[1][1]
    assert fake["error"] is None and fake["result"][0] == {"count": 1}
    assert fake["result"][1]["uuid"][0] == "uuid"


def test_every_lie_is_known():
    assert set(LIES) == {"drop_update", "reorder_updates", "duplicate_update", "add_row",
                         "stale_read", "fake_ack"}


def test_unix_socket_upstream(tmp_path):
    async def main():
        path = str(tmp_path / "up.sock")

        async def handle(r, w):
            while data := await r.read(100):
                w.write(data.upper())
                await w.drain()
            w.close()
        server = await asyncio.start_unix_server(handle, path)
        try:
            async with FaultProxy.for_remote(f"unix:{path}") as p:
                assert p.remote.startswith("tcp:127.0.0.1:")
                r, w = await _connect(p)
                w.write(b'{"a":"b"}')
                assert await asyncio.wait_for(r.readexactly(9), 10) == b'{"A":"B"}'
                w.close()
        finally:
            server.close()
    run(main())


def test_liar_spreads_repeated_lies():
    liar = Liar()
    liar.arm("drop_update", count=2, skip=1, every=3)
    out = feed(liar, [("s2c", upd3(i)) for i in range(1, 9)])
    # eligible #2 dropped, then every third one: #5; the count is then used up.
    assert [m["params"][1] for _, m in out] == ["txn1", "txn3", "txn4", "txn6", "txn7",
                                                "txn8"]


def test_liar_fake_ack_leaves_reads_alone():
    liar = Liar()
    liar.arm("fake_ack")
    sync_read = {"id": 3, "method": "transact",
                 "params": ["Crucible", {"op": "select", "table": "Cell", "where": []},
                            {"op": "mutate", "table": "Cell", "where": [],
                             "mutations": [["ticks", "+=", 1]]}]}
    assert feed(liar, [("c2s", sync_read)]) == [("c2s", sync_read)]
    assert liar.told == []


def test_liar_can_pick_updates_by_row_operation():
    liar = Liar()
    liar.arm("drop_update", op="delete")
    delete = {"id": None, "method": "update2",
              "params": [["m"], {"Item": {"u9": {"delete": None}}}]}
    out = feed(liar, [("s2c", upd3(1)), ("s2c", delete), ("s2c", upd3(2))])
    assert [m["method"] for _, m in out] == ["update3", "update3"]
