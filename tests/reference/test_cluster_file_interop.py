"""Clustered files against the real thing: Debian's ovsdb-tool 3.1 and a live 3-member
ovsdb-server 3.1 cluster on loopback.

- ovsdb-tool reads what `crucible db create-cluster/join-cluster` writes (show-log,
  db-cid, db-sid, db-local-address, db-name, check-cluster, cluster-to-standalone), and
  we read what ovsdb-tool writes;
- a live cluster runs on files made by both tools, takes transactions and a follower's
  compaction; we read every member's file into the contents the servers served, show
  it as ovsdb-tool does, convert it as ovsdb-tool does; a file we compacted restarts in
  the cluster; our standalone conversion opens in both servers with the same contents;
- damaged real files: torn tail, flipped byte, unknown member.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import uuid4

import orjson
import pytest

from harness.targets.server import REPO, free_port, start_server, wait_for_port
from reference.storage import dbtool, log_file
from reference.storage.cluster_data import (
    apply_data,
    change_data,
    load_database,
    snapshot_data,
)
from reference.storage.cluster_file import ClusterFile, read_cluster
from reference.storage.log_file import CLUSTER_MAGIC
from reference.storage.records import apply_file_record

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "ovsdb-tool"], capture_output=True).returncode != 0,
    reason="needs ovsdb-tool and ovsdb-server 3.1")

SCHEMA = {"name": "K", "version": "1.0.0",
          "tables": {"Root": {"isRoot": True, "columns": {
              "name": {"type": "string"},
              "i": {"type": "integer"},
              "iset": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
              "smap": {"type": {"key": "string", "value": "string", "min": 0,
                                "max": "unlimited"}},
              "eph": {"type": "integer", "ephemeral": True}}}}}


@pytest.fixture
def schema_file(tmp_path) -> str:
    path = tmp_path / "k.ovsschema"
    path.write_bytes(orjson.dumps(SCHEMA))
    return str(path)


def tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ovsdb-tool", *args], capture_output=True, text=True, timeout=30)


def ours(*args: str) -> subprocess.CompletedProcess:
    """`crucible db ARGS`, run in this process (quicker than a new interpreter per call;
    the command line's own path is covered by cli_ours)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = dbtool.main(list(args))
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


def cli_ours(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", "db", *args],
                          capture_output=True, text=True, timeout=60, cwd=REPO)


def header_of(path: str) -> dict:
    return log_file.read(path, CLUSTER_MAGIC).records[0]


def normal_rows(rows: dict) -> dict:
    """{name: (i, iset, smap)} from a dict of row dicts holding plain JSON-ish values."""
    return {r["name"]: (r["i"], sorted(r["iset"]), sorted(r["smap"].items()))
            for r in rows.values()}


def contents_of_db(db) -> dict:
    rows = {}
    for u, row in db.tables["Root"].rows.items():
        rows[u] = {"name": row["name"].keys[0], "i": row["i"].keys[0],
                   "iset": list(row["iset"].keys),
                   "smap": dict(zip(row["smap"].keys, row["smap"].values or (),
                                    strict=True))}
    return normal_rows(rows)


def contents_via_client(remote: str) -> dict:
    out = subprocess.run(["ovsdb-client", "transact", remote, orjson.dumps(
        ["K", {"op": "select", "table": "Root", "where": [],
               "columns": ["name", "i", "iset", "smap"]}]).decode()],
        capture_output=True, text=True, check=True, timeout=30)
    rows = {}
    for n, r in enumerate(orjson.loads(out.stdout)[0]["rows"]):
        iset = r["iset"][1] if isinstance(r["iset"], list) and r["iset"][0] == "set" \
            else [r["iset"]]
        rows[n] = {"name": r["name"], "i": r["i"], "iset": iset, "smap": dict(r["smap"][1])}
    return normal_rows(rows)


def transact(remote: str, *ops: dict) -> list:
    out = subprocess.run(["ovsdb-client", "transact", remote, orjson.dumps(["K", *ops]).decode()],
                         capture_output=True, text=True, check=True, timeout=30)
    result = orjson.loads(out.stdout)
    assert not any(isinstance(r, dict) and "error" in r for r in result), result
    return result


# ---------------------------------------------------------------------------
# Files made by one tool, read by the other
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("timer", [None, 2000])
def test_ovsdb_tool_reads_our_create_cluster(tmp_path, schema_file, timer):
    db = str(tmp_path / "c.db")
    args = ([f"--election-timer={timer}"] if timer else []) + [
        "create-cluster", db, schema_file, "tcp:127.0.0.1:6641"]
    r = cli_ours(*args)
    assert r.returncode == 0, r.stderr
    assert "from ephemeral to persistent" in r.stderr
    h = header_of(db)
    assert "ephemeral" not in orjson.dumps(h["prev_data"][0]).decode()
    for cmd, want in [("db-cid", h["cluster_id"]), ("db-sid", h["server_id"]),
                      ("db-local-address", "tcp:127.0.0.1:6641"), ("db-name", "K")]:
        got = tool(cmd, db)
        assert (got.returncode, got.stdout) == (0, want + "\n"), (cmd, got.stderr)
        assert ours(cmd, db).stdout == want + "\n"
    theirs = tool("show-log", "-m", db)
    assert theirs.returncode == 0 and "prev_schema: \"K\"" in theirs.stdout
    assert ours("show-log", "-m", db).stdout == theirs.stdout
    if timer:
        assert "index: 2" in theirs.stdout
    assert tool("db-is-clustered", db).returncode == 0
    assert tool("cluster-to-standalone", str(tmp_path / "s.db"), db).returncode == 0
    records = log_file.read(str(tmp_path / "s.db")).records
    assert records[0]["name"] == "K" and records[1:] == [{}]


def test_create_cluster_from_a_standalone_database(tmp_path, schema_file):
    src = str(tmp_path / "src.db")
    assert tool("create", src, schema_file).returncode == 0
    r = tool("transact", src, orjson.dumps(["K", insert("a", 1, [1, 2], {"k": "v"}),
                                                insert("b", 2, [], {})]).decode())
    assert r.returncode == 0, r.stderr
    theirs, mine = str(tmp_path / "t.db"), str(tmp_path / "o.db")
    assert tool("create-cluster", theirs, src, "tcp:127.0.0.1:1").returncode == 0
    assert ours("create-cluster", mine, src, "tcp:127.0.0.1:1").returncode == 0
    t, o = header_of(theirs)["prev_data"], header_of(mine)["prev_data"]
    assert o[0] == t[0]
    assert {**o[1], "_date": 0} == {**t[1], "_date": 0}
    assert contents_of_db(load_database(read_cluster(mine))) == {
        "a": (1, [1, 2], [("k", "v")]), "b": (2, [], [])}


def test_ovsdb_tool_reads_our_join_cluster(tmp_path):
    db, cid_db = str(tmp_path / "j.db"), str(tmp_path / "jc.db")
    cid = str(uuid4())
    assert ours("join-cluster", db, "K", "tcp:127.0.0.1:2", "tcp:127.0.0.1:3",
                "tcp:127.0.0.1:1", "tcp:127.0.0.1:4", "tcp:127.0.0.1:5").returncode == 0
    assert ours(f"--cid={cid}", "join-cluster", cid_db, "K", "tcp:127.0.0.1:2",
                "tcp:127.0.0.1:1").returncode == 0
    r = tool("db-cid", db)
    assert (r.returncode, r.stderr.strip()) == (2, f"{db}: cluster ID not yet known")
    r = ours("db-cid", db)
    assert (r.returncode, r.stderr.strip()) == (2, f"{db}: cluster ID not yet known")
    assert tool("db-cid", cid_db).stdout == cid + "\n"
    assert tool("db-sid", db).stdout == header_of(db)["server_id"] + "\n"
    theirs = tool("show-log", db)
    assert theirs.returncode == 0 and "remote_addresses: tcp:" in theirs.stdout
    assert ours("show-log", db).stdout == theirs.stdout
    check = tool("check-cluster", db)
    assert "has not joined the cluster, omitting" in check.stdout


def test_we_read_what_ovsdb_tool_writes(tmp_path, schema_file):
    c, j = str(tmp_path / "c.db"), str(tmp_path / "j.db")
    assert tool("--election-timer=3000", "create-cluster", c, schema_file,
                "tcp:127.0.0.1:6641").returncode == 0
    assert tool("join-cluster", j, "K", "tcp:127.0.0.1:6642", "tcp:127.0.0.1:6641"
                ).returncode == 0
    s = read_cluster(c)
    assert str(s.header.cid) == tool("db-cid", c).stdout.strip()
    assert str(s.header.sid) == tool("db-sid", c).stdout.strip()
    assert s.election_timer == 3000 and s.log_end == 3 and s.header.prev_index == 1
    assert load_database(s).tables["Root"].rows == {}
    sj = read_cluster(j)
    assert sj.header.joining and sj.header.cid is None
    assert sj.header.remote_addresses == ("tcp:127.0.0.1:6641",)
    for db in (c, j):
        assert ours("show-log", "-m", db).stdout == tool("show-log", "-m", db).stdout
        for cmd in ("db-sid", "db-local-address", "db-name", "db-is-clustered"):
            assert ours(cmd, db).stdout == tool(cmd, db).stdout


@pytest.mark.parametrize("args", [
    ["create-cluster", "X.db", "SCHEMA"],
    ["create-cluster", "X.db", "SCHEMA", "udp:1.2.3.4:5"],
    ["create-cluster", "X.db", "SCHEMA", "tcp:1.2.3.4"],
    ["--election-timer=50", "create-cluster", "X.db", "SCHEMA", "tcp:1.2.3.4:5"],
    ["join-cluster", "X.db", "K", "tcp:1.2.3.4:5"],
    ["join-cluster", "X.db", "9K", "tcp:1.2.3.4:5", "tcp:1.2.3.4:6"],
    ["join-cluster", "X.db", "K", "tcp:1.2.3.4:5", "tcp:1.2.3.4:5"],
    ["db-cid", "STANDALONE"],
    ["db-sid", "MISSING"],
    ["db-is-clustered", "STANDALONE"],
    ["db-is-standalone", "CLUSTERED"],
    ["cluster-to-standalone", "OUT.db", "STANDALONE"],
])
def test_errors_exit_as_ovsdb_tool_does(tmp_path, schema_file, args):
    standalone, clustered = str(tmp_path / "s.db"), str(tmp_path / "c.db")
    tool("create", standalone, schema_file)
    tool("create-cluster", clustered, schema_file, "tcp:127.0.0.1:1")
    subst = {"X.db": str(tmp_path / "x.db"), "SCHEMA": schema_file, "STANDALONE": standalone,
             "CLUSTERED": clustered, "MISSING": str(tmp_path / "nope.db"),
             "OUT.db": str(tmp_path / "out.db")}
    args = [subst.get(a, a) for a in args]
    theirs, mine = tool(*args), cli_ours(*args)
    assert mine.returncode == theirs.returncode != 0, (mine.stderr, theirs.stderr)
    assert "Traceback" not in mine.stderr and len(mine.stderr.strip().splitlines()) <= 1
    assert not os.path.exists(subst["X.db"])


# ---------------------------------------------------------------------------
# A live 3-member ovsdb-server 3.1 cluster
# ---------------------------------------------------------------------------

class LiveCluster:
    def __init__(self, workdir: Path, files: list[str]) -> None:
        self.workdir = workdir
        self.files = files
        self.ports = [free_port() for _ in files]
        self.procs: list[subprocess.Popen | None] = [None] * len(files)

    def ctl(self, i: int) -> str:
        return str(self.workdir / f"s{i}.ctl")

    def remote(self, i: int) -> str:
        return f"tcp:127.0.0.1:{self.ports[i]}"

    def start(self) -> "LiveCluster":
        for i, f in enumerate(self.files):
            self.procs[i] = subprocess.Popen(
                ["ovsdb-server", "--no-chdir", f"--remote=ptcp:{self.ports[i]}:127.0.0.1",
                 f"--pidfile={self.workdir / f's{i}.pid'}",
                 f"--log-file={self.workdir / f's{i}.log'}", f"--unixctl={self.ctl(i)}", f],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for i, p in enumerate(self.procs):
            assert p is not None
            wait_for_port(self.ports[i], lambda p=p: p.poll() is None)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = [self.appctl(i, "cluster/status", "K") for i in range(len(self.files))]
            if all("Status: cluster member" in s for s in status) and any(
                    "Role: leader" in s for s in status) and all(
                    "Servers:\n" in s and s.count(" at tcp:") == len(self.files)
                    for s in status):
                return self
            time.sleep(0.1)
        raise TimeoutError("the cluster did not form:\n" + "\n".join(status))

    def appctl(self, i: int, *args: str) -> str:
        return subprocess.run(["ovs-appctl", "-t", self.ctl(i), *args], capture_output=True,
                              text=True, timeout=30).stdout

    def stop(self) -> None:
        for p in self.procs:
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for i, p in enumerate(self.procs):
            if p is not None:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            self.procs[i] = None


def insert(name: str, i: int, iset: list[int], smap: dict[str, str]) -> dict:
    return {"op": "insert", "table": "Root", "row": {
        "name": name, "i": i, "iset": ["set", iset], "smap": ["map", list(smap.items())]}}


def update(name: str, row: dict) -> dict:
    return {"op": "update", "table": "Root", "where": [["name", "==", name]], "row": row}


@pytest.fixture
def live_files(tmp_path, schema_file) -> tuple[Path, list[str]]:
    """Member 0 made by `crucible db create-cluster`, member 1 by ovsdb-tool join-cluster,
    member 2 by `crucible db join-cluster`: every file starts the way its maker wrote it."""
    files = [str(tmp_path / f"s{i}.db") for i in range(3)]
    ports = [free_port() for _ in files]
    addr = [f"tcp:127.0.0.1:{p}" for p in ports]
    assert cli_ours("create-cluster", files[0], schema_file, addr[0]).returncode == 0
    assert tool("join-cluster", files[1], "K", addr[1], addr[0]).returncode == 0
    assert ours("join-cluster", files[2], "K", addr[2], addr[0], addr[1]).returncode == 0
    return tmp_path, files


def test_live_cluster_files_both_ways(live_files):
    workdir, files = live_files
    cluster = LiveCluster(workdir, files).start()
    try:
        transact(cluster.remote(0), insert("a", 1, [1, 2], {"k": "v"}),
                 {"op": "insert", "table": "Root", "row": {"name": "x", "i": 0, "eph": 7}})
        transact(cluster.remote(1), insert("b", 2, [], {}))           # forwarded
        transact(cluster.remote(0), update("a", {"iset": ["set", [2, 3]], "i": 10}))
        assert cluster.appctl(1, "ovsdb-server/compact") == ""      # a follower compacts
        transact(cluster.remote(2), update("b", {"smap": ["map", [["z", "1"]]]}))
        transact(cluster.remote(0), {"op": "delete", "table": "Root",
                                     "where": [["name", "==", "x"]]})
        live = contents_via_client(cluster.remote(0))
        deadline = time.monotonic() + 10
        while any(contents_via_client(cluster.remote(i)) != live for i in (1, 2)):
            assert time.monotonic() < deadline, "followers did not catch up"
            time.sleep(0.05)
    finally:
        cluster.stop()
    assert set(live) == {"a", "b"}

    # We read what ovsdb-server wrote: every member's file replays to what it served.
    states = [read_cluster(f) for f in files]
    assert states[1].header.prev_index > 1          # the compacted follower
    for f, s in zip(files, states, strict=True):
        assert contents_of_db(load_database(s, upto=s.commit_index)) == live, f
        assert ours("show-log", "-m", f).stdout == tool("show-log", "-m", f).stdout, f
        out_t, out_o = f + ".t", f + ".o"
        assert tool("cluster-to-standalone", out_t, f).returncode == 0
        r = ours("cluster-to-standalone", out_o, f)
        assert r.returncode == 0, r.stderr
        assert log_file.read(out_o).records == log_file.read(out_t).records
    assert tool("check-cluster", *files).returncode == 0

    # What a commit of ours would append is what ovsdb-server appended for each change.
    db = apply_data(None, states[0].header.prev_data)
    data_entries = [e for e in states[0].entries if e.data is not None]
    assert len(data_entries) == 5
    for e in data_entries:
        changes = apply_file_record(db, e.data[1])
        assert change_data(changes, db.schema, e.data[1]["_date"]) == e.data, e.index

    # Our standalone conversion opens in ovsdb-server and in ours with the same contents.
    for kind in ("ovsdb-server", "reference"):
        d = workdir / kind
        d.mkdir()
        os.link(files[2] + ".o", d / "db0.db")
        srv = start_server(kind, workdir, [d / "db0.db"])
        try:
            assert contents_via_client(srv.remote) == live, kind
        finally:
            srv.stop()

    # What we write, ovsdb-server runs: compact member 2's file with ours, restart all.
    f, s = ClusterFile.open(files[2])
    with f:
        applied = s.commit_index
        f.compact(applied, snapshot_data(load_database(s, upto=applied)))
    assert read_cluster(files[2]).header.prev_index == applied
    assert tool("check-cluster", *files).returncode == 0
    assert ours("show-log", files[2]).stdout == tool("show-log", files[2]).stdout
    cluster = LiveCluster(workdir, files)
    cluster.start()
    try:
        transact(cluster.remote(2), insert("c", 3, [7], {}))
        live["c"] = (3, [7], [])
        deadline = time.monotonic() + 10
        while any(contents_via_client(cluster.remote(i)) != live for i in range(3)):
            assert time.monotonic() < deadline, "members disagree after restart"
            time.sleep(0.05)
    finally:
        cluster.stop()
    assert contents_of_db(load_database(read_cluster(files[2]))) == live


# ---------------------------------------------------------------------------
# Damage in a real file
# ---------------------------------------------------------------------------

@pytest.fixture
def real_file(tmp_path, schema_file) -> str:
    """A one-member cluster's file after three transactions, as ovsdb-server wrote it."""
    db = str(tmp_path / "r.db")
    port = free_port()
    assert tool("create-cluster", db, schema_file, f"tcp:127.0.0.1:{port}").returncode == 0
    cluster = LiveCluster(tmp_path, [db])
    cluster.start()
    try:
        for n in range(3):
            transact(cluster.remote(0), insert(f"r{n}", n, [n], {}))
    finally:
        cluster.stop()
    return db


def test_damaged_real_files(real_file, caplog):
    good = open(real_file, "rb").read()
    offsets = log_file.read(real_file, CLUSTER_MAGIC).offsets
    n = len(offsets)
    assert n >= 6

    # A torn last record: ovsdb-tool lists the records before it; we log and truncate.
    open(real_file, "wb").write(good[:-7])
    assert f"record {n - 2}:" in tool("show-log", real_file).stdout
    f, s = ClusterFile.open(real_file)
    f.close()
    assert "truncating" in caplog.text
    assert os.path.getsize(real_file) == offsets[-1]

    # A flipped byte in a middle record: refused, with where and why.
    mid = offsets[n // 2]
    bad = bytearray(good)
    bad[mid + 70] ^= 0x20
    open(real_file, "wb").write(bytes(bad))
    r = ours("cluster-to-standalone", real_file + ".out", real_file)
    assert r.returncode == 1 and "damage in the middle of the log" in r.stderr
    assert f"offset {offsets[n // 2 + 1]}" in r.stderr and "SHA-1" in r.stderr
    assert not os.path.exists(real_file + ".out")
    with pytest.raises(log_file.CorruptLogError):
        ClusterFile.open(real_file)

    # An unknown member: ovsdb-tool's parser and ours refuse it with the same words.
    records = [orjson.loads(good[o:].split(b"\n", 2)[1]) for o in offsets]
    records[-1]["color"] = "red"
    open(real_file, "wb").write(b"".join(log_file.encode_record(r, CLUSTER_MAGIC)
                                         for r in records))
    words = "Member 'color' is present but not allowed here."
    assert words in tool("show-log", real_file).stdout
    assert words in ours("show-log", real_file).stdout
    with pytest.raises(log_file.StorageError, match=words.replace(".", r"\.")):
        ClusterFile.open(real_file)
