"""Our 3-member Raft cluster against ovsdb-server 3.1's, same machine, same run (issue #12).

    python -m bench cluster       (or: python -m bench.cluster [--quick] [--trials N])

Both clusters run on loopback (harness/targets/ovsdb_server.py, no namespaces), election
timer 1000 ms (both servers' default), and stay up together while the measurements
alternate between them, round by round; medians are compared:

1. commit throughput on the leader: small insert transactions (one two-column row) on
   one connection with 8 outstanding, pipelined as bench/server.py does (and with 1
   outstanding, for information);
2. failover: from a fault of the leader to the first acknowledged write through a
   leader-only client (``LeaderOnlyClient``: what python-ovs's Idl does with all three
   remotes and leader_only, without its reconnect back-off: it watches
   ``_Server.Database`` on every member and writes where ``leader`` and ``connected``
   are true).  Faults: SIGKILL; SIGTERM (ours hands leadership over on the way out,
   3.1 leaves its followers to hold an election); ``ovs-appctl exit`` (3.1 hands
   leadership over there), for information.  The stopped member is restarted between
   trials, so each trial starts from three healthy members;
3. memory: VmRSS of each member after loading 100,000 rows through the leader (1,000
   per transaction), on fresh clusters, once every member has applied them all.

``--profile FILE`` samples our leader with py-spy during the runs with 8 outstanding.

Targets: throughput ours >= 1x OVS's; SIGKILL failover <= 0.5x; SIGTERM failover <= 1x;
memory per member <= 3x.  Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.server import SCHEMA, Pipe, _check, _insert, throughput
from harness.targets.base import run, wait_until
from harness.targets.ovsdb_server import OvsdbCluster

KINDS = ("ovsdb-server", "reference")
DB = "Crucible"
FAULTS = ("kill", "term", "exit")


class Ids:
    """Distinct row numbers for one cluster's whole run (Pair is indexed on a, b)."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, n: int) -> int:
        first, self.next = self.next, self.next + n
        return first


# -- the leader-only client -------------------------------------------------------------


class Watch:
    """One connection to a member, monitoring its ``_Server.Database`` row of ``DB``."""

    def __init__(self, remote: str) -> None:
        self.remote = remote
        self.pipe = Pipe(remote, timeout=5)
        self.rows: dict[str, dict] = {}
        self.retry_at = 0.0   # after a refused write, wait a little before the next
        self.pipe.send({"method": "monitor_cond", "id": "watch", "params": [
            "_Server", None, {"Database": [{"columns": ["name", "leader", "connected"],
                                            "where": [["name", "==", DB]]}]}]})

    def leads(self, now: float) -> bool:
        return now >= self.retry_at and any(
            r.get("leader") is True and r.get("connected") is True for r in self.rows.values())

    def apply(self, updates: dict) -> None:
        for uuid, change in updates.get("Database", {}).items():
            if "delete" in change:
                self.rows.pop(uuid, None)
                continue
            for key in ("initial", "insert", "modify"):
                if key in change:
                    self.rows.setdefault(uuid, {}).update(change[key])
        self.retry_at = 0.0

    def read(self) -> list[dict]:
        """What arrived (one recv); raises ConnectionError when the member is gone."""
        try:
            data = self.pipe.sock.recv(1 << 20)
        except OSError as e:
            raise ConnectionError(str(e)) from e
        if not data:
            raise ConnectionError("closed")
        return self.pipe.framer.feed(data)

    def close(self) -> None:
        self.pipe.close()


class LeaderOnlyClient:
    """Writes only where a member says it leads, as the Idl's leader_only does."""

    def __init__(self, remotes: list[str]) -> None:
        self.watches = [Watch(r) for r in remotes]
        self.sel = selectors.DefaultSelector()
        for w in self.watches:
            self.sel.register(w.pipe.sock, selectors.EVENT_READ, w)
        self.acked: dict | None = None
        self.refusal = ""
        # The initial rows: the client is up and knows the leader before any fault.
        deadline = time.monotonic() + 10
        while not all(w.rows for w in self.watches) and time.monotonic() < deadline:
            self._turn(0.1, None)
        if not all(w.rows for w in self.watches):
            raise RuntimeError("a member did not send its _Server.Database row")

    def write(self, txn: Callable[[], dict], timeout: float = 30.0) -> None:
        """Send a transaction made by ``txn`` to the member that leads, a new one (a
        write that was lost with its connection may still have committed) after a
        refusal or a lost connection, until one is acknowledged."""
        deadline = time.monotonic() + timeout
        self.acked, pending = None, None
        while self.acked is None:
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError(f"no write acknowledged within {timeout}s; members: " +
                                   "; ".join(f"{w.remote} {list(w.rows.values())}"
                                             for w in self.watches) +
                                   f"; last refusal: {self.refusal}")
            if pending is None:
                pending = next((w for w in self.watches if w.leads(now)), None)
                if pending is not None:
                    try:
                        pending.pipe.send(txn())
                    except OSError:
                        self._drop(pending)
                        pending = None
            pending = self._turn(min(0.05, deadline - now), pending)

    def _turn(self, timeout: float, pending: Watch | None) -> Watch | None:
        for key, _ in self.sel.select(timeout):
            w: Watch = key.data
            try:
                msgs = w.read()
            except ConnectionError:
                self._drop(w)
                if w is pending:
                    pending = None
                continue
            for m in msgs:
                if m.get("method") == "update2":
                    w.apply(m["params"][1])
                elif m.get("method") == "echo" and m.get("id") is not None:
                    w.pipe.send({"result": m["params"], "error": None, "id": m["id"]})
                elif m.get("id") == "watch":
                    w.apply(m.get("result") or {})
                elif "method" not in m and w is pending:
                    pending = None
                    try:
                        _check(m)
                        self.acked = m
                    except RuntimeError as e:
                        self.refusal = str(e)
                        w.retry_at = time.monotonic() + 0.05
        return pending

    def _drop(self, w: Watch) -> None:
        self.sel.unregister(w.pipe.sock)
        self.watches.remove(w)
        w.close()

    def close(self) -> None:
        for w in list(self.watches):
            self._drop(w)
        self.sel.close()


# -- the clusters -----------------------------------------------------------------------


def start_cluster(kind: str, workdir: Path) -> OvsdbCluster:
    cluster = OvsdbCluster(workdir=workdir, schema=SCHEMA, n=3, db=DB, use_netns=False,
                           server_kind=kind)
    try:
        cluster.setup()
        cluster.start_all()
        leader_of(cluster)
    except BaseException:
        cluster.teardown()
        raise
    return cluster


def leader_of(cluster: OvsdbCluster, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        node = cluster.leader()
        if node is not None:
            return node
        time.sleep(0.1)
    raise TimeoutError(f"no leader in the {cluster.server_kind} cluster within {timeout}s")


def election_timer(cluster: OvsdbCluster) -> str:
    status = cluster.cluster_status(leader_of(cluster))
    return next((line.split(":", 1)[1].strip() for line in status.splitlines()
                 if line.startswith("Election timer:")), "?")


def healthy(cluster: OvsdbCluster) -> None:
    """Every member up and connected, one of them leading."""
    for node in cluster.nodes:
        if not cluster.alive(node):
            cluster.restart(node)
    for node in cluster.nodes:
        cluster.wait_ready(node)
    leader_of(cluster)


def fault(cluster: OvsdbCluster, node: str, how: str) -> None:
    proc = cluster.procs[node]
    if how == "kill":
        proc.kill()
    elif how == "term":
        proc.signal(signal.SIGTERM)
    else:
        run(["ovs-appctl", "--timeout=10", "-t", cluster.ctl(node), "exit"], timeout=15)


def failover(cluster: OvsdbCluster, how: str, ids: Ids) -> float:
    """Seconds from the fault of the leader to the first acknowledged write."""
    healthy(cluster)
    node = leader_of(cluster)
    client = LeaderOnlyClient([cluster.remote(n) for n in cluster.nodes])
    try:
        t0 = time.perf_counter()
        fault(cluster, node, how)
        try:
            client.write(lambda: _insert(ids.take(1)))
        except TimeoutError as e:
            raise TimeoutError(f"{cluster.server_kind}, {how} of {node}: {e}") from e
        took = time.perf_counter() - t0
    finally:
        client.close()
    popen = cluster.procs[node].popen
    if popen is not None:
        try:
            popen.wait(15)
        except subprocess.TimeoutExpired:
            cluster.procs[node].kill()
    return took


def commit_rates(cluster: OvsdbCluster, count: int, ids: Ids,
                 profile: Path | None = None) -> dict[str, float]:
    """Commits/s on the leader; with ``profile``, py-spy samples the leader during the
    run with 8 outstanding and writes its collapsed stacks there."""
    healthy(cluster)
    node = leader_of(cluster)
    remote = cluster.remote(node)
    throughput(remote, 1, min(100, count), ids.take(100))  # warm-up
    out = {"tps_1": throughput(remote, 1, count, ids.take(count))}
    spy = None
    if profile is not None:
        spy = subprocess.Popen(["py-spy", "record", "--nonblocking", "--format", "raw",
                                "--rate", "250", "--output", str(profile),
                                "--pid", str(cluster.procs[node].pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)   # py-spy attaches
    try:
        out["tps_8"] = throughput(remote, 8, count, ids.take(count))
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)   # py-spy writes its output on SIGINT
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
    return out


def applied_index(remote: str) -> int:
    p = Pipe(remote, timeout=5)
    try:
        p.send({"method": "transact", "id": 1, "params": [
            "_Server", {"op": "select", "table": "Database", "where": [["name", "==", DB]],
                        "columns": ["index"]}]})
        reply = p.reply()
        _check(reply)
        return reply["result"][0]["rows"][0]["index"]
    finally:
        p.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def memory(kind: str, workdir: Path, rows: int) -> list[int]:
    """VmRSS KiB of each member once all have applied ``rows`` rows."""
    cluster = start_cluster(kind, workdir)
    try:
        remote = cluster.remote(leader_of(cluster))
        batch = min(1000, rows)
        p = Pipe(remote)
        try:
            for k in range(rows // batch):
                p.send(_insert(k, batch))
                _check(p.reply())
        finally:
            p.close()
        remotes = [cluster.remote(n) for n in cluster.nodes]
        target = applied_index(remote)
        wait_until(lambda: all(applied_index(r) >= target for r in remotes), 60,
                   f"{kind} members applying {rows} rows", 0.2)
        return [rss_kib(cluster.procs[n].pid or 0) for n in cluster.nodes]
    finally:
        cluster.teardown()


# -- the run ------------------------------------------------------------------------------


def _ratio(ours: float, ovs: float) -> float:
    return ours / ovs if ovs else float("inf")


def report(rows: list[tuple[str, float, float, str, Callable[[float], bool] | None]]) -> None:
    print(f"\n{'measure':<44}{'ovsdb-server':>14}{'ours':>12}{'ours/OVS':>10}  target")
    for label, ovs, ours, target, ok in rows:
        r = _ratio(ours, ovs)
        verdict = "" if ok is None else ("met" if ok(r) else "MISSED")
        print(f"{label:<44}{ovs:>14.{_digits(ovs)}f}{ours:>12.{_digits(ours)}f}{r:>10.2f}  "
              f"{target} {verdict}".rstrip())


def _digits(v: float) -> int:
    return 3 if v < 10 else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.cluster", description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=10,
                    help="failover trials per fault and server (medians are compared)")
    ap.add_argument("--rounds", type=int, default=5, help="throughput rounds per server")
    ap.add_argument("--count", type=int, default=2000, help="transactions per throughput run")
    ap.add_argument("--rows", type=int, default=100_000, help="rows loaded for memory")
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    ap.add_argument("--profile", type=Path, metavar="FILE",
                    help="py-spy (pip install py-spy) samples our leader at 8 outstanding; "
                         "collapsed stacks go to FILE.roundN.txt")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.trials, args.rounds, args.count, args.rows = 1, 1, 100, 2000
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    clusters: dict[str, OvsdbCluster] = {}
    try:
        for kind in KINDS:
            print(f"starting a 3-member {kind} cluster ...", flush=True)
            clusters[kind] = start_cluster(kind, work / kind)
        ids = {kind: Ids() for kind in KINDS}
        for kind in KINDS:
            print(f"  {kind}: election timer {election_timer(clusters[kind])} ms", flush=True)
        tps: dict[str, dict[str, list[float]]] = {k: {"tps_1": [], "tps_8": []} for k in KINDS}
        for rnd in range(args.rounds):
            print(f"throughput round {rnd + 1}/{args.rounds}: {args.count} transactions at "
                  "depth 1 and 8 on each leader ...", flush=True)
            for kind in KINDS:
                profile = (args.profile.with_suffix(f".round{rnd + 1}.txt")
                           if args.profile and kind == "reference" else None)
                for key, v in commit_rates(clusters[kind], args.count, ids[kind],
                                           profile).items():
                    tps[kind][key].append(v)
        times: dict[str, dict[str, list[float]]] = {k: {f: [] for f in FAULTS} for k in KINDS}
        for trial in range(args.trials):
            print(f"failover trial {trial + 1}/{args.trials}: "
                  f"{', '.join(FAULTS)} of each leader ...", flush=True)
            for how in FAULTS:
                for kind in KINDS:
                    times[kind][how].append(failover(clusters[kind], how, ids[kind]))
        for kind in KINDS:
            clusters.pop(kind).teardown()
        rss: dict[str, list[int]] = {}
        for kind in KINDS:
            print(f"memory: {args.rows} rows into a fresh {kind} cluster ...", flush=True)
            rss[kind] = memory(kind, work / f"{kind}-mem", args.rows)
        med = {k: {key: statistics.median(v) for key, v in {**tps[k], **times[k]}.items()}
               for k in KINDS}
        ovs, ours = med["ovsdb-server"], med["reference"]
        report([
            ("commits/s on the leader, 8 outstanding", ovs["tps_8"], ours["tps_8"],
             ">= 1x", lambda r: r >= 1.0),
            ("commits/s on the leader, 1 outstanding", ovs["tps_1"], ours["tps_1"],
             "(info)", None),
            ("s from SIGKILL of the leader to a write", ovs["kill"], ours["kill"],
             "<= 0.5x", lambda r: r <= 0.5),
            ("s from SIGTERM of the leader to a write", ovs["term"], ours["term"],
             "<= 1x", lambda r: r <= 1.0),
            ("s from ovs-appctl exit to a write", ovs["exit"], ours["exit"], "(info)", None),
            (f"VmRSS KiB per member, {args.rows} rows (max)", max(rss["ovsdb-server"]),
             max(rss["reference"]), "<= 3x", lambda r: r <= 3.0),
        ])
        print(f"\nours' SIGTERM against OVS's ovs-appctl exit: "
              f"{_ratio(ours['term'], ovs['exit']):.2f}")
        print(f"throughput: medians of {args.rounds} round(s); ours/OVS in each round:")
        for key in ("tps_1", "tps_8"):
            print(f"  {key}: " + " ".join(
                f"{b / a:.2f}" for a, b in zip(tps["ovsdb-server"][key], tps["reference"][key],
                                                strict=True)))
        print(f"failover: medians of {args.trials} trial(s); seconds in each trial:")
        for how in FAULTS:
            for kind in KINDS:
                print(f"  {how:<5}{kind:<14}" + " ".join(f"{t:.3f}" for t in times[kind][how]))
        print("VmRSS KiB of each member: " + "; ".join(
            f"{kind} {', '.join(map(str, rss[kind]))}" for kind in KINDS))
        return 0
    finally:
        for cluster in clusters.values():
            cluster.teardown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
