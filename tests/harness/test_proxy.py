"""FaultProxy: forwarding and each fault of its link, with and without lying (the lies
themselves, message by message, are in test_liar.py; against a real ovsdb-server in
test_bug_zoo.py).

Network tests run against a tiny asyncio echo server on 127.0.0.1.  Nothing asserts how long anything took: a held or
discarded message is checked by polling for a bounded time and finding nothing.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from harness.liar import Liar
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


def test_lying_proxy_ends_a_connection_whose_stream_does_not_frame():
    async def main():
        async with Echo() as echo, FaultProxy("127.0.0.1", echo.port, lying=True) as p:
            r, w = await _connect(p)
            w.write(b'{"id":1,"method":"echo","params":[]} not json')
            await w.drain()
            assert await asyncio.wait_for(r.read(), 10) == b""  # closed, nothing relayed
            assert echo.received == b""
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
