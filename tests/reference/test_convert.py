"""Online schema conversion (the ``convert`` method), against both servers."""

from __future__ import annotations

import json
import socket

import orjson
import pytest

from tests.servers import OVN_NB, start_server


class Conn:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        self.n = 0

    def call(self, method: str, params: list) -> dict:
        self.n += 1
        self.sock.sendall(orjson.dumps({"method": method, "params": params, "id": self.n}))
        while True:
            msg = self.next(10)
            if msg.get("id") == self.n:
                return msg

    def next(self, timeout: float) -> dict:
        self.sock.settimeout(timeout)
        dec = json.JSONDecoder()
        while True:
            text = self.buf.decode().lstrip()
            if text:
                try:
                    obj, end = dec.raw_decode(text)
                    self.buf = text[end:].encode()
                    return obj
                except json.JSONDecodeError:
                    pass
            chunk = self.sock.recv(65536)
            if not chunk:
                return {"eof": True}
            self.buf += chunk


def new_schema(extra_column: bool = True) -> dict:
    schema = json.load(open(OVN_NB))
    schema.pop("cksum", None)
    schema["version"] = "99.0.0"
    if extra_column:
        schema["tables"]["Logical_Switch"]["columns"]["crucible"] = {
            "type": {"key": "string", "min": 0}}
    return schema


@pytest.mark.parametrize("kind", ["ovsdb-server", "reference"])
def test_convert_cancels_aware_monitors_and_drops_the_others(tmp_path, kind):
    server = start_server(kind, tmp_path, [OVN_NB])
    try:
        aware, plain, converter = (Conn(server.port) for _ in range(3))
        aware.call("set_db_change_aware", [True])
        converter.call("set_db_change_aware", [True])
        r = converter.call("transact", ["OVN_Northbound", {"op": "insert",
                           "table": "Logical_Switch", "row": {"name": "sw0"}}])
        assert "error" not in r["result"][0]
        aware.call("monitor_cond", ["OVN_Northbound", "m", {"Logical_Switch": [{}]}])
        plain.call("monitor_cond", ["OVN_Northbound", "m", {"Logical_Switch": [{}]}])

        bad = converter.call("convert", ["OVN_Northbound", dict(new_schema(), name="Other")])
        assert bad["error"] == {"details": "new schema name (Other) does not match database "
                                           "name (OVN_Northbound)", "error": "invalid parameters"}
        assert converter.call("convert", ["OVN_Northbound", new_schema()])["result"] == {}
        assert aware.next(10) == {"id": None, "method": "monitor_canceled", "params": ["m"]}
        assert plain.next(10) == {"eof": True}

        schema = converter.call("get_schema", ["OVN_Northbound"])["result"]
        assert schema["version"] == "99.0.0"
        assert "crucible" in schema["tables"]["Logical_Switch"]["columns"]
        rows = converter.call("transact", ["OVN_Northbound", {"op": "select",
                              "table": "Logical_Switch", "where": [],
                              "columns": ["name", "crucible"]}])["result"][0]["rows"]
        assert rows == [{"name": "sw0", "crucible": ["set", []]}]
        # The new schema is what the file holds: it survives a restart.
        server.stop()
        server.start()
        again = Conn(server.port)
        assert again.call("get_schema", ["OVN_Northbound"])["result"]["version"] == "99.0.0"
    finally:
        server.stop()


def test_converting_server_database_is_refused(tmp_path):
    # ovsdb-server 3.1 answers {} to this and then dies of SIGSEGV (seen here, exit 139):
    # a client can kill it.  Ours refuses and keeps serving, so this is reference-only.
    server = start_server("reference", tmp_path, [OVN_NB])
    try:
        c = Conn(server.port)
        r = c.call("convert", ["_Server", {"name": "_Server", "version": "1.0.0",
                                           "tables": {"X": {"columns": {"q": {"type": "integer"}}}}}])
        assert r["error"]["error"] == "not allowed"
        assert c.call("list_dbs", [])["result"] == ["OVN_Northbound", "_Server"]
    finally:
        server.stop()
