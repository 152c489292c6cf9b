"""Monitor fan-out: ours against ovsdb-server 3.1, same machine, same run (issue #3).

Three measurements, each printed with the ratio the issue targets:

1. initial contents: 10,000 Logical_Switch rows (name, one external_ids key, one
   other_config key); 50 clients send monitor_cond at once; time until the last has
   its whole reply.  Target: ours <= 0.5x ovsdb-server.
2. unconditional fan-out: 100 clients monitor Logical_Switch; 1,000 single-column
   modifies; server CPU per transaction (utime+stime from /proc).  Printed: ours,
   OVS's, and ours(100 clients)/ours(1 client).  Target: <= 3.
3. OVN-Southbound-like: N clients each monitor the rows of their own "chassis"
   ([name == chassis-i]); every transaction modifies one chassis's rows.  Server CPU
   per transaction at 1,000 clients / at 10 clients.  Target: <= 2 (OVS grows with
   the number of clients because it composes per conditional session).

Sizes shrink with ``--quick`` (for a smoke run); the figures in the notes come from the
full run.  The server process's CPU is what is measured; the clients share the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import orjson

from harness.client import Client
from harness.targets.server import OVN_NB, start_server

KINDS = ("ovsdb-server", "reference")
_values = iter(range(1, 1 << 62))  # every modify writes a value never written before


async def load_switches(remote: str, n: int, chassis_of=None) -> list[str]:
    """Insert n Logical_Switch rows in batches; return their uuids."""
    client = await Client.connect(remote)
    uuids: list[str] = []
    for start in range(0, n, 500):
        ops = [{"op": "insert", "table": "Logical_Switch", "row": {
            "name": chassis_of(i) if chassis_of else f"ls{i}",
            "external_ids": ["map", [["owner", f"o{i}"]]],
            "other_config": ["map", [["k", "0"]]]}}
            for i in range(start, min(n, start + 500))]
        result = await client.transact("OVN_Northbound", ops)
        uuids += [r["uuid"][1] for r in result]
    await client.close()
    return uuids


async def wait_quiet(clients: list[Client], quiet_s: float = 0.3, limit_s: float = 120) -> None:
    """Wait until no client has received anything for ``quiet_s``."""
    deadline = time.monotonic() + limit_s

    def total() -> int:
        return sum(c.notifications.qsize() for c in clients)

    last, since = total(), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        now = total()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return


async def initial_contents(remote: str, n_clients: int) -> float:
    """Seconds until the last of n_clients has the complete monitor_cond reply.

    The clients only count bytes (the reply is the same size for every client, learnt
    from one probe client first), so the figure is the server's, not Python's parsing.
    """
    host, port = remote.split(":")[1:]
    request = (b'{"id":1,"method":"monitor_cond","params":["OVN_Northbound","m",'
               b'{"Logical_Switch":[{"columns":["name","external_ids","other_config"]}]}]}')
    probe = await Client.connect(remote)
    reply = await probe.monitor_cond("OVN_Northbound", "m", {"Logical_Switch": [
        {"columns": ["name", "external_ids", "other_config"]}]})
    await probe.close()
    size = len(orjson.dumps({"id": 1, "result": reply, "error": None}))

    conns = [await asyncio.open_connection(host, int(port)) for _ in range(n_clients)]

    async def fetch(reader, writer) -> int:
        writer.write(request)
        got = 0
        while got < size - 64:  # member order and spacing may differ by a few bytes
            chunk = await reader.read(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        return got

    start = time.monotonic()
    await asyncio.gather(*(fetch(r, w) for r, w in conns))
    elapsed = time.monotonic() - start
    for _, w in conns:
        w.close()
    return elapsed


async def cpu_per_txn(server, remote: str, n_clients: int, n_txns: int, uuids: list[str],
                      condition_of=None, target_of=None) -> float:
    """Server CPU seconds per transaction with n_clients monitoring."""
    clients = [await Client.connect(remote) for _ in range(n_clients)]
    for i, c in enumerate(clients):
        where = [condition_of(i)] if condition_of else []
        request = {"columns": ["name", "other_config"]}
        if where:
            request["where"] = where
        await c.monitor_cond("OVN_Northbound", "m", {"Logical_Switch": [request]})
    writer = await Client.connect(remote)
    await wait_quiet(clients)
    before = server.cpu_seconds()
    for t in range(n_txns):
        targets = target_of(t) if target_of else [uuids[t % len(uuids)]]
        ops = [{"op": "update", "table": "Logical_Switch",
                "where": [["_uuid", "==", ["uuid", u]]],
                "row": {"other_config": ["map", [["k", str(next(_values))]]]}} for u in targets]
        await writer.transact("OVN_Northbound", ops)
    await wait_quiet(clients)
    used = server.cpu_seconds() - before
    for c in clients + [writer]:
        await c.close()
    return used / n_txns


def southbound_cpu(server, n_chassis: int, n_txns: int, per: int = 4) -> float:
    """CPU per txn with one client per chassis, each txn touching one chassis's rows."""
    uuids = asyncio.run(load_switches(server.remote, n_chassis * per,
                                      chassis_of=lambda i: f"chassis-{i // per}"))
    return asyncio.run(cpu_per_txn(
        server, server.remote, n_chassis, n_txns, uuids,
        condition_of=lambda i: ["name", "==", f"chassis-{i}"],
        target_of=lambda t: uuids[(t % n_chassis) * per:(t % n_chassis + 1) * per]))


def run_kind(kind: str, args, workdir: Path) -> dict[str, float]:
    figures: dict[str, float] = {}

    def fresh(name: str):
        return start_server(kind, workdir / name, [OVN_NB], ["--inactivity-probe=0"]
                            if kind == "reference" else [])

    server = fresh("initial")
    try:
        asyncio.run(load_switches(server.remote, args.rows))
        figures["initial_s"] = asyncio.run(initial_contents(server.remote, args.clients))
    finally:
        server.stop()

    server = fresh("unconditional")
    try:
        uuids = asyncio.run(load_switches(server.remote, 100))
        for n in (1, args.fanout_clients):
            figures[f"uncond_cpu_{n}"] = asyncio.run(cpu_per_txn(
                server, server.remote, n, args.txns, uuids))
    finally:
        server.stop()

    for n in (10, args.chassis):
        server = fresh(f"southbound{n}")
        try:
            figures[f"sb_cpu_{n}"] = southbound_cpu(server, n, args.txns)
        finally:
            server.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench fanout")
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = p.parse_args(argv or [])
    args.rows, args.clients = (1000, 10) if args.quick else (10000, 50)
    args.fanout_clients, args.txns = (20, 100) if args.quick else (100, 1000)
    args.chassis = 100 if args.quick else 1000
    workdir = Path(tempfile.mkdtemp(prefix="crucible-bench-fanout-"))
    try:
        res = {kind: run_kind(kind, args, workdir) for kind in KINDS}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ovs, ours = res["ovsdb-server"], res["reference"]
    us = 1e6
    print(f"initial contents, {args.rows} rows to {args.clients} clients at once:")
    print(f"  ovsdb-server {ovs['initial_s']:.2f} s   ours {ours['initial_s']:.2f} s   "
          f"ours/ovs = {ours['initial_s'] / ovs['initial_s']:.2f}   (target <= 0.5)")
    n = args.fanout_clients
    print(f"unconditional fan-out, {args.txns} single-column modifies, server CPU per txn:")
    print(f"  ovsdb-server 1 client {ovs['uncond_cpu_1'] * us:.0f} us, {n} clients "
          f"{ovs[f'uncond_cpu_{n}'] * us:.0f} us")
    print(f"  ours         1 client {ours['uncond_cpu_1'] * us:.0f} us, {n} clients "
          f"{ours[f'uncond_cpu_{n}'] * us:.0f} us")
    print(f"  ours({n})/ours(1) = {ours[f'uncond_cpu_{n}'] / ours['uncond_cpu_1']:.2f}"
          f"   (target <= 3)   ovs({n})/ovs(1) = "
          f"{ovs[f'uncond_cpu_{n}'] / ovs['uncond_cpu_1']:.2f}")
    c = args.chassis
    print("Southbound-like, one chassis's rows per txn, server CPU per txn:")
    for name, fig in (("ovsdb-server", ovs), ("ours", ours)):
        print(f"  {name:<12} 10 clients {fig['sb_cpu_10'] * us:.0f} us, {c} clients "
              f"{fig[f'sb_cpu_{c}'] * us:.0f} us, ratio {fig[f'sb_cpu_{c}'] / fig['sb_cpu_10']:.2f}")
    print(f"  ours({c})/ours(10) = {ours[f'sb_cpu_{c}'] / ours['sb_cpu_10']:.2f}   (target <= 2)")
    return 0
