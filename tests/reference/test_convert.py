"""Online schema conversion (the ``convert`` method), against both servers."""

from __future__ import annotations

import json

import pytest

from harness.targets.server import OVN_NB, start_server
from tests.reference.wire import Conn, ConnectionClosed


def connect(port: int) -> Conn:
    return Conn.to(f"tcp:127.0.0.1:{port}")


def closed_by_server(c: Conn) -> bool:
    try:
        while c.recv(10) is not None:
            pass
    except ConnectionClosed:
        return True
    return False


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
        aware, plain, converter = (connect(server.port) for _ in range(3))
        aware.request("set_db_change_aware", [True])
        converter.request("set_db_change_aware", [True])
        r = converter.transact("OVN_Northbound", {"op": "insert", "table": "Logical_Switch",
                                                  "row": {"name": "sw0"}})
        assert "error" not in r[0]
        aware.request("monitor_cond", ["OVN_Northbound", "m", {"Logical_Switch": [{}]}])
        plain.request("monitor_cond", ["OVN_Northbound", "m", {"Logical_Switch": [{}]}])

        bad = converter.request("convert", ["OVN_Northbound", dict(new_schema(), name="Other")])
        assert bad["error"] == {"details": "new schema name (Other) does not match database "
                                           "name (OVN_Northbound)", "error": "invalid parameters"}
        assert converter.request("convert", ["OVN_Northbound", new_schema()])["result"] == {}
        assert aware.recv(10) == {"id": None, "method": "monitor_canceled", "params": ["m"]}
        assert closed_by_server(plain)

        schema = converter.request("get_schema", ["OVN_Northbound"])["result"]
        assert schema["version"] == "99.0.0"
        assert "crucible" in schema["tables"]["Logical_Switch"]["columns"]
        rows = converter.transact("OVN_Northbound", {"op": "select", "table": "Logical_Switch",
                                                     "where": [],
                                                     "columns": ["name", "crucible"]})[0]["rows"]
        assert rows == [{"name": "sw0", "crucible": ["set", []]}]
        # The new schema is what the file holds: it survives a restart.
        server.stop()
        server.start()
        again = connect(server.port)
        assert again.request("get_schema", ["OVN_Northbound"])["result"]["version"] == "99.0.0"
    finally:
        server.stop()


def test_converting_server_database_is_refused(tmp_path):
    # ovsdb-server 3.1 answers {} to this and then dies of SIGSEGV (seen here, exit 139):
    # a client can kill it.  Ours refuses and keeps serving, so this is reference-only.
    server = start_server("reference", tmp_path, [OVN_NB])
    try:
        c = connect(server.port)
        r = c.request("convert", ["_Server", {"name": "_Server", "version": "1.0.0",
                                              "tables": {"X": {"columns": {"q": {"type": "integer"}}}}}])
        assert r["error"]["error"] == "not allowed"
        assert c.call("list_dbs") == ["OVN_Northbound", "_Server"]
    finally:
        server.stop()
