"""Real OVSDB clients against our server: ovn-nbctl, ovsdb-client, the PyPI `ovs` Idl
and ovsdbapp's OVN Northbound API.

Every test is parametrised over both server kinds, so the same test proves that the
client works against the real ovsdb-server 3.1 too; where a client prints something,
the outputs of the two kinds are also compared after UUID normalisation.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import time

import orjson
import pytest

from harness.targets.server import OVN_NB, start_server
from tests.reference.wire import UUID_RE, Conn

KINDS = ["ovsdb-server", "reference"]
NB = "OVN_Northbound"


@pytest.fixture(params=KINDS)
def nb(request, server_factory):
    return server_factory(request.param, [OVN_NB])


def run(cmd: list[str], timeout: float = 30) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}: {p.stderr}")
    return p.stdout


def nbctl(server, *args: str) -> str:
    return run(["ovn-nbctl", f"--db={server.remote}", "--timeout=20",
                *args])


def norm_text(text: str) -> list:
    """Client output with UUIDs masked, as a tree (by indentation) whose children are
    sorted: the clients print rows in the order of their hash tables, which follow the
    random UUIDs, so two runs of the same server differ in order only."""
    root: list = []
    stack: list[tuple[int, list]] = [(-1, root)]
    for line in UUID_RE.sub("<uuid>", text).splitlines():
        indent = len(line) - len(line.lstrip())
        while stack[-1][0] >= indent:
            stack.pop()
        node: list = [line.strip(), []]
        stack[-1][1].append(node)
        stack.append((indent, node[1]))

    def canon(nodes: list) -> list:
        return sorted(([t, canon(c)] for t, c in nodes), key=orjson.dumps)
    return canon(root)


def norm_json_dump(text: str) -> list:
    """`ovsdb-client -f json dump` output, UUIDs masked, rows and sets sorted."""
    def canon(v):
        if isinstance(v, list):
            items = [canon(x) for x in v]
            if len(v) == 2 and v[0] in ("set", "map") and isinstance(v[1], list):
                return [v[0], sorted(items[1], key=orjson.dumps)]
            return items
        if isinstance(v, dict):
            return {k: canon(x) for k, x in v.items()}
        return v
    tables = []
    for line in text.splitlines():
        t = canon(orjson.loads(UUID_RE.sub("<uuid>", line)))
        t["data"] = sorted(t["data"], key=orjson.dumps)
        tables.append(t)
    return sorted(tables, key=lambda t: t["caption"])


def poll(cond, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# -- ovn-nbctl ---------------------------------------------------------------------------

NBCTL_SCRIPT = [
    ["ls-add", "sw0"], ["ls-add", "sw1"],
    ["lsp-add", "sw0", "p0"], ["lsp-set-addresses", "p0", "00:00:00:00:00:01 10.0.0.2"],
    ["lsp-add", "sw0", "p1"],
    ["lr-add", "r0"], ["lrp-add", "r0", "rp0", "00:00:00:00:01:01", "10.0.0.1/24"],
    ["acl-add", "sw0", "to-lport", "1001", "ip4 && tcp.dst == 22", "drop"],
    ["acl-add", "sw0", "from-lport", "1000", "ip4", "allow-related"],
    ["lb-add", "lb0", "10.0.0.100:80", "10.0.0.2:8080,10.0.0.3:8080"],
    ["ls-lb-add", "sw0", "lb0"],
]


def nbctl_session(server) -> dict[str, str]:
    for cmd in NBCTL_SCRIPT:
        nbctl(server, *cmd)
    out = {
        "show": nbctl(server, "show"),
        "ls-list": nbctl(server, "ls-list"),
        "lsp-list": nbctl(server, "lsp-list", "sw0"),
        "acl-list": nbctl(server, "acl-list", "sw0"),
        "lb-list": nbctl(server, "lb-list"),
        "ls-lb-list": nbctl(server, "ls-lb-list", "sw0"),
        "lr-list": nbctl(server, "lr-list"),
    }
    nbctl(server, "ls-lb-del", "sw0", "lb0")
    nbctl(server, "destroy", "Load_Balancer", "lb0")
    nbctl(server, "lsp-del", "p1")
    nbctl(server, "ls-del", "sw1")
    nbctl(server, "lr-del", "r0")
    out["after"] = nbctl(server, "show")
    out["lb-after"] = nbctl(server, "lb-list")
    return out


def test_ovn_nbctl(nb):
    out = nbctl_session(nb)
    assert "switch" in out["show"] and "(sw0)" in out["show"] and "port p0" in out["show"]
    assert "10.0.0.2" in out["show"] and "router" in out["show"] and "rp0" in out["show"]
    assert "(sw0)" in out["ls-list"] and "(sw1)" in out["ls-list"]
    assert "(p0)" in out["lsp-list"] and "(p1)" in out["lsp-list"]
    assert "ip4 && tcp.dst == 22" in out["acl-list"] and "allow-related" in out["acl-list"]
    assert "lb0" in out["lb-list"] and "10.0.0.100:80" in out["lb-list"]
    assert "lb0" in out["ls-lb-list"]
    assert "(r0)" in out["lr-list"]
    assert "sw1" not in out["after"] and "r0" not in out["after"] and "p1" not in out["after"]
    assert "port p0" in out["after"] and out["lb-after"].strip() == ""


def test_ovn_nbctl_output_matches_ovsdb_server(tmp_path):
    outs = []
    for kind in KINDS:
        server = start_server(kind, tmp_path, [OVN_NB])
        try:
            outs.append({k: norm_text(v) for k, v in nbctl_session(server).items()})
        finally:
            server.stop()
    assert outs[0] == outs[1]


def test_ovn_nbctl_errors(nb):
    p = subprocess.run(["ovn-nbctl", f"--db={nb.remote}", "lsp-add",
                        "nope", "p"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "nope" in p.stderr
    nbctl(nb, "ls-add", "dup")
    p = subprocess.run(["ovn-nbctl", f"--db={nb.remote}", "ls-add", "dup"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "already exists" in p.stderr


# -- ovsdb-client ------------------------------------------------------------------------

def test_ovsdb_client_basics(nb):
    assert run(["ovsdb-client", "list-dbs", nb.remote]).split() == [NB, "_Server"]
    schema = run(["ovsdb-client", "get-schema", nb.remote, NB])
    assert '"name":"OVN_Northbound"' in schema.replace(" ", "")
    assert run(["ovsdb-client", "get-schema-version", nb.remote, NB]).strip() == \
        run(["ovsdb-tool", "schema-version", OVN_NB]).strip()
    reply = run(["ovsdb-client", "transact", nb.remote,
                 '["OVN_Northbound", {"op": "insert", "table": "Logical_Switch",'
                 ' "row": {"name": "c1", "other_config": ["map", [["k", "v"]]]}}]'])
    assert re.fullmatch(r'\[\{"uuid":\["uuid","[0-9a-f-]{36}"\]\}\]\s*', reply)
    dump = run(["ovsdb-client", "dump", nb.remote, NB, "Logical_Switch"])
    assert "c1" in dump and "k=v" in dump
    tables = run(["ovsdb-client", "list-tables", nb.remote, NB])
    assert "Logical_Switch_Port" in tables
    cols = run(["ovsdb-client", "list-columns", nb.remote, NB, "ACL"])
    assert "priority" in cols


def test_ovsdb_client_dump_matches_ovsdb_server(tmp_path):
    outs = []
    for kind in KINDS:
        server = start_server(kind, tmp_path, [OVN_NB])
        try:
            for cmd in NBCTL_SCRIPT:
                nbctl(server, *cmd)
            outs.append(norm_json_dump(run(["ovsdb-client", "-f", "json", "dump",
                                            server.remote, NB])))
        finally:
            server.stop()
    assert outs[0] == outs[1]
    assert sum(len(t["data"]) for t in outs[0]) >= 8


def _read_until(proc: subprocess.Popen, needle: str, buf: list[str], timeout: float = 15):
    """Read the client's output until it contains `needle` (bounded; raw reads, since
    a buffered reader would hide data from select())."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if needle in "".join(buf):
                return
            if sel.select(timeout=0.2):
                data = os.read(fd, 65536)
                if not data:
                    break
                buf.append(data.decode(errors="replace"))
    raise AssertionError(f"{needle!r} not seen in monitor output: {''.join(buf)[-2000:]}")


@pytest.mark.parametrize("mode", ["monitor", "monitor-cond"])
def test_ovsdb_client_monitor(nb, mode):
    nbctl(nb, "ls-add", "before")
    if mode == "monitor":
        cmd = ["ovsdb-client", "monitor", nb.remote, NB, "Logical_Switch", "name,other_config"]
    else:
        cmd = ["ovsdb-client", "monitor-cond", nb.remote, NB,
               '[["name", "!=", "hidden"]]', "Logical_Switch", "name"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    buf: list[str] = []
    try:
        _read_until(proc, "before", buf)
        nbctl(nb, "ls-add", "hidden")
        nbctl(nb, "ls-add", "after")
        _read_until(proc, "after", buf)
        nbctl(nb, "ls-del", "before")
        _read_until(proc, "delete", buf)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    text = "".join(buf)
    assert "initial" in text and "insert" in text
    if mode == "monitor-cond":
        assert "hidden" not in text
    else:
        assert "hidden" in text


# -- the ovs Python Idl ------------------------------------------------------------------

def make_idl(remote: str, tables: dict[str, list[str]]):
    import ovs.db.idl
    import ovs.poller  # noqa: F401 - the Idl needs it loaded

    helper = ovs.db.idl.SchemaHelper(location=OVN_NB)
    for table, cols in tables.items():
        helper.register_columns(table, cols)
    return ovs.db.idl.Idl(remote, helper)  # leader_only: it reads _Server first


def idl_names(idl) -> set[str]:
    return {row.name for row in idl.tables["Logical_Switch"].rows.values()}


def idl_wait(idl, cond, what: str, timeout: float = 15):
    def step():
        idl.run()
        return cond()
    return poll(step, timeout, what)


def add_switch(server, name: str) -> None:
    with Conn.to(server.remote) as c:
        r = c.transact(NB, {"op": "insert", "table": "Logical_Switch", "row": {"name": name}})
        assert "error" not in r[0], r


def test_ovs_idl_monitor_cond_and_cond_change(nb):
    add_switch(nb, "a")
    idl = make_idl(nb.remote, {"Logical_Switch": ["name"]})
    try:
        idl_wait(idl, lambda: idl_names(idl) == {"a"}, "initial contents")
        add_switch(nb, "b")
        idl_wait(idl, lambda: idl_names(idl) == {"a", "b"}, "insert of b")
        idl.cond_change("Logical_Switch", [["name", "==", "b"]])
        idl_wait(idl, lambda: idl_names(idl) == {"b"}, "condition change to b only")
        add_switch(nb, "c")
        add_switch(nb, "b2")
        idl.cond_change("Logical_Switch", [["name", "==", "b"], ["name", "==", "c"]])
        idl_wait(idl, lambda: idl_names(idl) == {"b", "c"}, "condition b or c")
        assert idl.has_ever_connected()
    finally:
        idl.close()


def test_ovs_idl_transaction(nb):
    import ovs.db.idl
    idl = make_idl(nb.remote, {"Logical_Switch": ["name", "other_config"]})
    try:
        idl_wait(idl, lambda: idl.change_seqno > 0, "initial contents")
        txn = ovs.db.idl.Transaction(idl)
        row = txn.insert(idl.tables["Logical_Switch"])
        row.name = "from-idl"
        row.other_config = {"x": "1"}
        deadline = time.monotonic() + 15
        status = txn.commit()  # the Idl may not run() while a transaction is being built
        while status == ovs.db.idl.Transaction.INCOMPLETE and time.monotonic() < deadline:
            idl.run()
            time.sleep(0.01)
            status = txn.commit()
        assert status == ovs.db.idl.Transaction.SUCCESS, txn.get_error()
        idl_wait(idl, lambda: "from-idl" in idl_names(idl), "own insert")
        with Conn.to(nb.remote) as c:
            rows = c.transact(NB, {"op": "select", "table": "Logical_Switch", "where": [],
                                   "columns": ["name", "other_config"]})[0]["rows"]
        assert rows == [{"name": "from-idl", "other_config": ["map", [["x", "1"]]]}]
    finally:
        idl.close()


def test_ovs_idl_reconnects_after_restart_and_drop(nb):
    add_switch(nb, "a")
    idl = make_idl(nb.remote, {"Logical_Switch": ["name"]})
    sent: list[str] = []  # the Idl's requests, to see which monitor method it resumes with
    send = idl.send_request

    def record(request):
        sent.append(request.method)
        return send(request)
    idl.send_request = record
    try:
        idl_wait(idl, lambda: idl_names(idl) == {"a"}, "initial contents")
        # The server goes away and comes back on the same port with the same file.
        nb.stop()
        nb.start()
        add_switch(nb, "b")
        idl_wait(idl, lambda: idl_names(idl) == {"a", "b"}, "resync after restart", 30)
        # Now the client drops the connection: it resumes with monitor_cond_since.
        seq = idl.change_seqno
        idl.force_reconnect()
        add_switch(nb, "c")
        idl_wait(idl, lambda: idl_names(idl) == {"a", "b", "c"} and idl.change_seqno > seq,
                 "resync after a dropped connection", 30)
        add_switch(nb, "d")
        idl_wait(idl, lambda: idl_names(idl) == {"a", "b", "c", "d"}, "updates after resync")
        # First connection, after the restart, after the drop: monitor_cond_since each time.
        assert sent.count("monitor_cond_since") >= 3, sent
    finally:
        idl.close()


# -- ovsdbapp ----------------------------------------------------------------------------

def test_ovsdbapp_ovn_nb_api(nb):
    from ovsdbapp.backend.ovs_idl import connection
    from ovsdbapp.schema.ovn_northbound import impl_idl

    # ovsdbapp keeps one connection per API class for the whole process: drop the one
    # an earlier test (on another server) left behind.
    impl_idl.OvnNbApiIdlImpl._ovsdb_connection = None
    idl = connection.OvsdbIdl.from_server(nb.remote, NB)
    conn = connection.Connection(idl=idl, timeout=20)
    api = impl_idl.OvnNbApiIdlImpl(conn)
    try:
        api.ls_add("sw-api").execute(check_error=True)
        api.lsp_add("sw-api", "port-api", addresses=["00:00:00:00:00:09 10.1.0.9"]) \
            .execute(check_error=True)
        switches = {ls.name for ls in api.ls_list().execute(check_error=True)}
        assert switches == {"sw-api"}
        ports = [p.name for p in api.lsp_list("sw-api").execute(check_error=True)]
        assert ports == ["port-api"]
        assert nbctl(nb, "lsp-get-addresses", "port-api").strip() == "00:00:00:00:00:09 10.1.0.9"
        api.lsp_del("port-api").execute(check_error=True)
        api.ls_del("sw-api").execute(check_error=True)
        assert api.ls_list().execute(check_error=True) == []
        assert nbctl(nb, "ls-list").strip() == ""
    finally:
        conn.stop()
        impl_idl.OvnNbApiIdlImpl._ovsdb_connection = None
