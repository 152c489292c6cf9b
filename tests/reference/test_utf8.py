"""Strings that are not UTF-8 pass the framing of both servers and are refused by the
data layer with the same error, naming the same bytes."""

from __future__ import annotations

import pytest

from harness.targets.server import OVN_NB
from tests.reference.wire import Conn

BAD = [b"a\xff\xfeb", b"\xc0\xaf", b"\xe2\x82", b"ok\xe2\x82\xacz\xed\xa0\x80", b"\xf0\x90\x80",
       b"\xf4\x90\x80\x80"]


@pytest.fixture(scope="module")
def servers(module_server_factory):
    return [module_server_factory(kind, [OVN_NB]) for kind in ("ovsdb-server", "reference")]


@pytest.mark.parametrize("bad", BAD, ids=[b.hex() for b in BAD])
def test_invalid_utf8_string_refused_alike(servers, bad):
    replies = []
    for server in servers:
        with Conn.to(server.remote) as c:
            c.send_raw(b'{"method":"transact","params":["OVN_Northbound",{"op":"insert",'
                       b'"table":"Logical_Switch","row":{"name":"' + bad + b'"}}],"id":1}')
            replies.append(c.wait_reply(1)["result"])
            assert c.call("list_dbs") == ["OVN_Northbound", "_Server"]
    assert replies[0][0]["error"] == "constraint violation"
    assert replies[1] == replies[0]
