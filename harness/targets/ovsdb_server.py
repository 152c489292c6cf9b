"""A Raft cluster target: the real Open vSwitch ovsdb-server, or our reference server
(``server_kind``), each with its own file tool (standalone servers of either kind are
``standalone.py``).

Cluster: ``create-cluster`` on the first member, ``join-cluster --cid=CID`` for the
others (always with the cluster id, so a stale file can never join a different
cluster), by ``ovsdb-tool`` or ``crucible db``.  Files of either kind are checked with
``ovsdb-tool check-cluster`` after the run.  As root each member runs in its own network namespace
(see ``netns.py``) so partitions can cut the Raft links; otherwise all members share
loopback and only process faults are possible (``notes`` says so).  Clients use Unix
sockets, which reach into the namespaces.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.targets import netns as netns_mod
from harness.targets.base import (
    DELAY,
    DROP,
    KILL,
    LEAVE,
    PARTITION,
    PAUSE,
    RESET,
    Proc,
    Target,
    Unsupported,
    run,
    wait_until,
)
from harness.targets.server import REPO, free_port, program_argv, tool_argv

RAFT_PORT = 6644


@dataclass
class OvsdbCluster(Target):
    """N server processes forming one clustered database."""

    server_kind: str = "ovsdb-server"  # or "reference"
    use_netns: bool | None = None  # None: when possible
    net: netns_mod.Netns | None = None
    sockdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="crs")))
    raft_ports: dict[str, int] = field(default_factory=dict)
    cid: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.name = f"{self.server_kind}-cluster"
        self.clustered = True
        if self.use_netns is None:
            ok, why = netns_mod.available()
            self.use_netns = ok
            if not ok:
                self.notes.append(f"no network namespaces ({why}): "
                                  "partitions are unavailable, only process faults")
        caps = {KILL, PAUSE, LEAVE}
        if self.use_netns:
            caps |= {PARTITION, DROP, RESET, DELAY}
        self.capabilities = frozenset(caps)

    # -- addresses --------------------------------------------------------------------

    def raft_addr(self, node: str) -> str:
        if self.net:
            return f"tcp:{self.net.ip(node)}:{RAFT_PORT}"
        return f"tcp:127.0.0.1:{self.raft_ports[node]}"

    def remote(self, node: str) -> str:
        return f"unix:{self.sockdir / (node + '.sock')}"

    def ctl(self, node: str) -> str:
        return str(self.sockdir / f"{node}.ctl")

    def dbfile(self, node: str) -> Path:
        return self.workdir / f"{node}.db"

    # -- set-up -----------------------------------------------------------------------

    def setup(self) -> None:
        if self.use_netns:
            self.net = netns_mod.Netns(self.nodes)
            self.net.create()
        else:
            for node in self.nodes:
                self.raft_ports[node] = free_port()
        first = self.nodes[0]
        self._tool("create-cluster", str(self.dbfile(first)), str(self.schema),
                   self.raft_addr(first))
        self.cid = self._tool("db-cid", str(self.dbfile(first))).strip()
        for node in self.nodes[1:]:
            self._join_file(node)
        for node in self.nodes:
            self.procs[node] = self._proc(node)

    def _join_file(self, node: str) -> None:
        others = [self.raft_addr(o) for o in self.nodes if o != node]
        self._tool("join-cluster", f"--cid={self.cid}", str(self.dbfile(node)), self.db,
                   self.raft_addr(node), *others)

    def _tool(self, *args: str) -> str:
        return run([*tool_argv(self.server_kind), *args], cwd=REPO)

    def _proc(self, node: str) -> Proc:
        w = self.workdir
        argv = [*program_argv(self.server_kind),
                f"--remote=punix:{self.sockdir / (node + '.sock')}",
                f"--pidfile={w / (node + '.pid')}", f"--log-file={w / (node + '.log')}",
                f"--unixctl={self.ctl(node)}", str(self.dbfile(node))]
        if self.net:
            argv = [*self.net.exec_prefix(node), *argv]
        return Proc(argv, w / f"{node}.stderr", cwd=REPO)

    def wait_ready(self, node: str, timeout: float = 30.0) -> None:
        proc = self.procs[node]
        sock = self.sockdir / f"{node}.sock"
        wait_until(lambda: sock.exists() or not proc.alive(), timeout, f"{node} socket")
        if not proc.alive():
            raise RuntimeError(f"{node} exited; see {proc.log} and {self.workdir}/{node}.log")
        res = subprocess.run(["ovsdb-client", f"--timeout={int(timeout)}", "wait",
                              self.remote(node), self.db, "connected"],
                             capture_output=True, text=True, timeout=timeout + 5)
        if res.returncode != 0:
            raise TimeoutError(f"{node} did not join the cluster: {res.stderr.strip()}")

    # -- status -----------------------------------------------------------------------

    def cluster_status(self, node: str, timeout: float = 2.0) -> str:
        return run(["ovs-appctl", f"--timeout={max(1, int(timeout))}", "-t", self.ctl(node),
                    "cluster/status", self.db], timeout=timeout + 2)

    def _live_statuses(self) -> Iterator[tuple[str, str]]:
        """(node, ``cluster/status`` text) of each member that is up and answers."""
        for node in self.nodes:
            proc = self.procs[node]
            if not proc.alive() or proc.paused:
                continue
            try:
                yield node, self.cluster_status(node)
            except (RuntimeError, subprocess.TimeoutExpired):
                continue

    def leader(self) -> str | None:
        """The member that says it is leader right now (None if no live one does)."""
        return next((node for node, status in self._live_statuses()
                     if "Role: leader" in status), None)

    def leader_term(self) -> tuple[str | None, int | None]:
        """Who leads and the highest term any live member reports, from each member's
        ``cluster/status`` (a leader change is an election: it explains a stall)."""
        leader, term = None, None
        for node, status in self._live_statuses():
            for line in status.splitlines():
                key, _, value = line.strip().partition(": ")
                if key == "Term" and value.strip().isdigit():
                    term = max(term or 0, int(value))
                elif key == "Role" and value.strip() == "leader":
                    leader = node
        return leader, term

    # -- faults -----------------------------------------------------------------------

    def leave(self, node: str) -> None:
        """Graceful ``cluster/leave``; the member then stops and its file is dropped."""
        run(["ovs-appctl", "--timeout=10", "-t", self.ctl(node), "cluster/leave", self.db],
            timeout=15)

        def gone() -> bool:
            # Once it has left, the server drops the database: "unknown cluster".
            try:
                return "Status: left cluster" in self.cluster_status(node)
            except RuntimeError as e:
                return "unknown cluster" in str(e) or not self.procs[node].alive()
            except subprocess.TimeoutExpired:
                return not self.procs[node].alive()
        try:
            wait_until(gone, 15, f"{node} leaving the cluster", 0.2)
        finally:
            self.procs[node].stop()

    def rejoin(self, node: str) -> None:
        """Join again with a fresh file (a member that left cannot come back with its
        old server id)."""
        db = self.dbfile(node)
        if db.exists():
            db.rename(db.with_suffix(f".left{len(list(self.workdir.glob(node + '.left*')))}"))
        self._join_file(node)
        self.procs[node].start()

    def partition(self, grudge: dict[str, set[str]]) -> None:
        if not self.net:
            raise Unsupported("partitions need network namespaces (root)")
        self.net.partition(grudge)

    def drop(self, node: str, probability: float) -> None:
        if not self.net:
            raise Unsupported("packet loss needs network namespaces (root)")
        self.net.drop(node, probability)

    def delay(self, ms: float) -> None:
        if not self.net:
            raise Unsupported("link delay needs network namespaces (root)")
        self.net.delay(ms, RAFT_PORT)

    def reset(self, node: str) -> None:
        if not self.net:
            raise Unsupported("connection resets need network namespaces (root)")
        self.net.reset(node)

    def heal(self) -> None:
        if self.net:
            self.net.heal()

    # -- after the run ----------------------------------------------------------------

    def post_check(self) -> dict[str, Any] | None:
        files = [str(self.dbfile(n)) for n in self.nodes if self.dbfile(n).exists()]
        res = subprocess.run(["ovsdb-tool", "check-cluster", *files],
                             capture_output=True, text=True, timeout=120)
        return {"tool": "ovsdb-tool check-cluster", "files": files,
                "ok": res.returncode == 0,
                "output": (res.stdout + res.stderr).strip()[-4000:]}

    def teardown(self) -> None:
        try:
            super().teardown()
        finally:
            if self.net:
                self.notes += self.net.destroy()
            shutil.rmtree(self.sockdir, ignore_errors=True)
