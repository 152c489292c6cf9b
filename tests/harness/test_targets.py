"""Targets: start/stop/kill/pause the real ovsdb-server, build and tear down the
namespaced cluster, cut links, fall back without namespaces, run external commands."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from harness.client import Client, RpcTimeout
from harness.targets import make_target
from harness.targets.base import PARTITION, Unsupported
from harness.targets.external import External
from harness.targets.netns import available as netns_available
from harness.targets.ovsdb_server import OvsdbCluster
from harness.targets.server import create_db, server_argv, start_server, stop_all

SCHEMA = Path(__file__).resolve().parents[2] / "harness" / "schemas" / "crucible.ovsschema"
_NETNS, _WHY = netns_available()
needs_root = pytest.mark.skipif(not _NETNS, reason=f"no network namespaces: {_WHY}")


async def _list_dbs(remote: str, timeout: float = 2.0) -> list[str]:
    client = await Client.connect(remote, timeout)
    try:
        return await client.list_dbs(timeout)
    finally:
        await client.close()


def _write_eventually(target, node: str, key: str, within: float = 40.0) -> list:
    """Healing may cost the cluster an election: retry (bounded) until a write commits."""
    deadline = time.monotonic() + within
    for attempt in range(100):
        try:
            # A fresh key each time: an attempt that timed out may still commit later.
            return asyncio.run(_write_through(target.remote(node), f"{key}{attempt}", 3.0))
        except (RpcTimeout, ConnectionError):
            if time.monotonic() > deadline:
                raise
    raise AssertionError("no write committed")


def _sockets(target, node) -> str:
    return subprocess.run([*target.net.exec_prefix(node), "ss", "-tn"], capture_output=True,
                          text=True).stdout


def _nat_rules(target, node) -> str:
    return subprocess.run([*target.net.exec_prefix(node), "iptables", "-t", "nat", "-S"],
                          capture_output=True, text=True).stdout


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


@pytest.mark.parametrize("kind", ["ovsdb-server", "reference"])
def test_start_server_names_its_files_and_stops_by_pid(tmp_path, kind):
    server = start_server(kind, tmp_path, [SCHEMA])
    try:
        assert server.workdir == tmp_path.resolve() / kind
        assert sorted(asyncio.run(_list_dbs(server.remote))) == ["Crucible", "_Server"]
        pidfile = server.workdir / f"{kind}.pid"
        assert int(pidfile.read_text()) == server.pid
        assert server.rss_bytes() > 0 and server.cpu_seconds() > 0
        # Standalone ovsdb-server keeps no monitor_cond_since history; for differential
        # tests ours is started the same way unless asked otherwise.
        assert ("--history-txns=0" in server.command()) == (kind == "reference")
    finally:
        stop_all([server])
    assert not server.alive()
    with pytest.raises(OSError):
        os.kill(server.pid, 0)
    again = start_server(kind, tmp_path, [SCHEMA])  # the same databases, restarted
    try:
        assert again.dbfiles == server.dbfiles and again.alive()
    finally:
        again.stop()


def test_server_kinds_are_checked(tmp_path):
    with pytest.raises(ValueError, match="unknown server kind"):
        server_argv("ovsdb", 1, tmp_path, "x", [])
    with pytest.raises(ValueError, match="unknown server kind"):
        create_db("ovsdb", tmp_path / "x.db", SCHEMA)


@pytest.mark.parametrize("kind", ["ovsdb-server", "reference"])
def test_standalone_kill_restart_pause_resume(tmp_path, kind):
    target = make_target(kind, 1, tmp_path, SCHEMA)
    assert target.describe()["target"] == kind
    with target:
        target.setup()
        target.start_all()
        (node,) = target.nodes
        remote = target.remote(node)
        assert sorted(asyncio.run(_list_dbs(remote))) == ["Crucible", "_Server"]
        pid = target.procs[node].pid
        target.kill(node)
        assert not target.alive(node)
        with pytest.raises(OSError):
            os.kill(pid, 0)
        target.restart(node)
        target.wait_ready(node)
        assert "Crucible" in asyncio.run(_list_dbs(remote))
        target.pause(node)
        with pytest.raises(RpcTimeout):
            asyncio.run(_list_dbs(remote, timeout=0.5))
        target.resume(node)
        assert "Crucible" in asyncio.run(_list_dbs(remote))
        pid = target.procs[node].pid
    # Leaving the context stopped the server.
    with pytest.raises(OSError):
        os.kill(pid, 0)


async def _write_through(remote: str, key: str, timeout: float) -> list:
    client = await Client.connect(remote, 2)
    try:
        return await client.transact("Crucible", [
            {"op": "insert", "table": "Cell", "row": {"key": key, "value": 1}}], timeout)
    finally:
        await client.close()


@needs_root
def test_cluster_in_namespaces_partition_and_teardown(tmp_path):
    target = make_target("ovsdb-server", 3, tmp_path, SCHEMA)
    assert isinstance(target, OvsdbCluster)
    try:
        target.setup()
        prefix = target.net.prefix
        assert prefix in _namespaces()
        target.start_all()
        assert PARTITION in target.capabilities
        res = asyncio.run(_write_through(target.remote("n1"), "a", 5))
        assert "uuid" in res[0]
        # Isolate n3 from both others: its writes cannot commit (no reply in time),
        # while the majority side still commits.
        target.partition({"n3": {"n1", "n2"}, "n1": {"n3"}, "n2": {"n3"}})
        assert "10.99.0.1" in target.net.rules("n3")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status = target.cluster_status("n3")
            if "Leader: unknown" in status or "Role: candidate" in status:
                break
            time.sleep(0.2)
        with pytest.raises(RpcTimeout):
            asyncio.run(_write_through(target.remote("n3"), "b", 1.0))
        # n1 (which created the cluster) and n2 are the majority side.
        res = asyncio.run(_write_through(target.remote("n1"), "c", 10))
        assert "uuid" in res[0]
        target.heal()
        assert "10.99.0.1" not in target.net.rules("n3")
        # Delay: every member's peer connections are redirected through relays (no
        # netem here); the cluster keeps committing, and healing removes it all.
        target.delay(20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and ":710" not in _sockets(target, "n1"):
            time.sleep(0.1)
        assert ":710" in _sockets(target, "n1")  # Raft now goes through a relay port
        res = asyncio.run(_write_through(target.remote("n1"), "d", 15))
        assert "uuid" in res[0]
        relays = list(target.net.relays)
        assert len(relays) == 6 and all(p.poll() is None for p in relays)
        target.heal()
        assert all(p.poll() is not None for p in relays)
        assert "DNAT" not in _nat_rules(target, "n1")
        res = _write_eventually(target, "n1", "e")
        assert "uuid" in res[0]
        # Reset: n2's established Raft connections are aborted (members reconnect on
        # new ports, so none of the old four-tuples survives).
        def raft_links() -> set[tuple[str, str]]:
            out = subprocess.run([*target.net.exec_prefix("n2"), "ss", "-tnH", "state",
                                  "established"], capture_output=True, text=True).stdout
            return {(f[-2], f[-1]) for f in (line.split() for line in out.splitlines())
                    if len(f) >= 2 and (f[-2].endswith(":6644") or f[-1].endswith(":6644"))}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not raft_links():
            time.sleep(0.1)
        before = raft_links()
        assert before
        target.reset("n2")
        assert not (before & raft_links())
        # Graceful leave, then rejoin with a fresh file: a member again.
        target.leave("n2")
        assert not target.alive("n2")
        target.rejoin("n2")
        target.wait_ready("n2")
        assert "Status: cluster member" in target.cluster_status("n2")
        for node in target.nodes:
            target.stop(node)
        check = target.post_check()
        assert check["ok"], check["output"]
    finally:
        target.teardown()
    assert prefix not in _namespaces()


def test_cluster_without_namespaces_falls_back_to_process_faults(tmp_path):
    target = OvsdbCluster(workdir=tmp_path, schema=SCHEMA, n=3, use_netns=False)
    with target:
        assert PARTITION not in target.capabilities
        target.setup()
        target.start_all()
        assert target.leader() in target.nodes
        with pytest.raises(Unsupported):
            target.partition({"n1": {"n2"}})
        target.kill("n1")
        target.restart("n1")
        target.wait_ready("n1")


def test_external_runs_configured_commands(tmp_path):
    log = tmp_path / "log"
    cfg = {"remotes": {"a": "tcp:127.0.0.1:1", "b": "tcp:127.0.0.1:2"},
           "start": f"echo start {{node}} {{remote}} >> {log}",
           "kill": f"echo kill {{node}} >> {log}"}
    path = tmp_path / "ext.json"
    path.write_bytes(orjson.dumps(cfg))
    target = make_target("external", 2, tmp_path, SCHEMA, external_config=str(path))
    assert isinstance(target, External)
    assert target.nodes == ["a", "b"] and target.clustered
    target.start("a")
    target.kill("b")
    with pytest.raises(Unsupported):
        target.pause("a")
    assert log.read_text().splitlines() == ["start a tcp:127.0.0.1:1", "kill b"]


def test_unknown_target_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown target"):
        make_target("nope", 1, tmp_path, SCHEMA)
