"""The wire client: request/reply matching, notifications, echo, timeouts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from harness.client import (
    Client,
    ConnectionLost,
    RpcError,
    RpcTimeout,
    parse_remote,
)
from harness.framing import Framer

SCHEMA = Path(__file__).resolve().parents[2] / "harness" / "schemas" / "crucible.ovsschema"


def test_parse_remote():
    assert parse_remote("tcp:127.0.0.1:6641") == ("tcp", "127.0.0.1", 6641)
    assert parse_remote("tcp:[::1]:6641") == ("tcp", "::1", 6641)
    assert parse_remote("unix:/tmp/x.sock") == ("unix", "/tmp/x.sock", 0)
    with pytest.raises(ValueError):
        parse_remote("ssl:1.2.3.4")


# --- against a scripted fake server --------------------------------------------------

async def _fake_server(handler):
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def test_answers_echo_probe_and_queues_notifications():
    async def main():
        got_echo_reply = asyncio.get_running_loop().create_future()

        async def handler(reader, writer):
            writer.write(b'{"method":"echo","params":["probe"],"id":"echo"}'
                         b'{"method":"update2","params":["m",{"T":{}}],"id":null}')
            framer = Framer()
            while not got_echo_reply.done():
                data = await reader.read(4096)
                if not data:
                    break
                for msg in framer.feed(data):
                    if msg.get("id") == "echo":
                        got_echo_reply.set_result(msg)
            writer.close()

        server, port = await _fake_server(handler)
        async with server:
            client = await Client.connect(f"tcp:127.0.0.1:{port}")
            reply = await asyncio.wait_for(got_echo_reply, 5)
            assert reply == {"result": ["probe"], "error": None, "id": "echo"}
            note = await client.next_notification(5)
            assert note.method == "update2" and note.params == ["m", {"T": {}}]
            await client.close()
    asyncio.run(main())


def test_timeout_then_connection_lost():
    async def main():
        release = asyncio.Event()

        async def handler(reader, writer):
            await reader.read(4096)  # swallow the request, never reply
            await release.wait()
            writer.close()

        server, port = await _fake_server(handler)
        async with server:
            client = await Client.connect(f"tcp:127.0.0.1:{port}")
            with pytest.raises(RpcTimeout):
                await client.call("list_dbs", [], timeout=0.2)
            pending = asyncio.ensure_future(client.call("list_dbs", []))
            await asyncio.sleep(0)
            release.set()
            with pytest.raises(ConnectionLost):
                await asyncio.wait_for(pending, 5)
            await asyncio.wait_for(client.closed, 5)
            with pytest.raises(ConnectionLost):
                await client.call("list_dbs", [])
            await client.close()
    asyncio.run(main())


def test_replies_match_ids_even_out_of_order():
    async def main():
        async def handler(reader, writer):
            framer = Framer()
            reqs = []
            while len(reqs) < 2:
                reqs += framer.feed(await reader.read(4096))
            for r in reversed(reqs):  # answer in reverse order
                writer.write(orjson.dumps({"result": r["params"], "error": None,
                                           "id": r["id"]}))
            await writer.drain()
            await reader.read(1)
            writer.close()

        server, port = await _fake_server(handler)
        async with server:
            client = await Client.connect(f"tcp:127.0.0.1:{port}")
            a, b = await asyncio.gather(client.call("echo", ["a"], 5),
                                        client.call("echo", ["b"], 5))
            assert (a, b) == (["a"], ["b"])
            await client.close()
    asyncio.run(main())


# --- against the real ovsdb-server ---------------------------------------------------

def test_against_real_ovsdb_server(ovsdb):
    async def main():
        client = await Client.connect(ovsdb.remote)
        assert "Crucible" in await client.list_dbs(5)
        schema = await client.get_schema("Crucible", 5)
        assert set(schema["tables"]) == {"Cell", "Item", "ListA", "ListB"}
        initial = await client.monitor_cond("Crucible", "m1",
                                            {"Cell": [{"columns": ["key", "value"]}]}, 5)
        assert initial == {}
        res = await client.transact("Crucible", [
            {"op": "insert", "table": "Cell", "row": {"key": "k", "value": 7}}], 5)
        assert "uuid" in res[0]
        note = await client.next_notification(5)
        assert note.method == "update2"
        assert note.params[0] == "m1"
        (row,) = note.params[1]["Cell"].values()
        assert row == {"insert": {"key": "k", "value": 7}}
        # An op error comes back inside the result list, not as an exception.
        res = await client.transact("Crucible", [
            {"op": "wait", "table": "Cell", "where": [["key", "==", "k"]],
             "columns": ["value"], "until": "==", "rows": [{"value": 8}], "timeout": 0}], 5)
        assert res[0]["error"] == "timed out"
        with pytest.raises(RpcError) as info:
            await client.call("no_such_method", [], 5)
        assert info.value.error == "unknown method"
        found = await client.monitor_cond_since(
            "Crucible", "m2", {"Cell": [{"columns": ["value"]}]}, None, 5)
        assert found[0] is False
        assert await client.echo(["x"], timeout=5) == ["x"]
        await client.close()
        assert client.is_closed
    asyncio.run(main())
