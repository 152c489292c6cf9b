"""Run a workload's operations against a target's nodes, recording each in the history.

Each worker is one Jepsen process at a time: it invokes one op, waits for its reply or
its timeout, records the completion, then pauses.  An op with no reply is recorded as
``info`` (it may still take effect) and the worker goes on under a new process number
(``process + workers``) on a fresh connection, as Jepsen does.

Routing (what a cluster run means by "leader-only writers" and "reads through
followers"):

- writes go to the member whose ``_Server.Database`` row says ``leader`` and
  ``connected`` (checked before every write; no op is invoked while no leader is known);
- reads go to the leader too when ``reads="leader"``, or to the worker's own member
  (worker i reads through node i mod N) when ``reads="node"``.

The op sequence of worker i is its plan (``Workload.plan``), drawn from the seed alone,
so the same seed gives the same operations in the same order per worker.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.client import Client, ConnectionLost, RpcError, RpcTimeout
from harness.workloads.env import RunEnv, Stats
from harness.workloads.ops import OpSpec, Outcome

if TYPE_CHECKING:
    from harness.workloads.base import Workload

SETUP_PROCESS = 1_000_000  # records the rows setup created; never a worker's number


@dataclass
class DriverConfig:
    db: str
    remotes: dict[str, str]  # node -> remote the clients use
    clustered: bool
    workers: int = 5
    reads: str = "leader"  # "leader" | "node"
    op_timeout: float = 2.0
    mean_gap: float = 0.05  # mean pause between a worker's ops, seconds
    leader_wait: float = 3.0  # give up looking for a leader after this long
    max_ops: int = 200_000  # per worker: the loop is bounded in count as well as time


def driver_config(env: RunEnv) -> DriverConfig:
    return DriverConfig(db=env.db, remotes=env.remotes, clustered=env.clustered,
                        workers=env.workers, reads=env.reads, op_timeout=env.op_timeout)


async def run_ops(workload: Workload, env: RunEnv, recorder: Any) -> None:
    """``env.workers`` workers until ``env.stop``; then each finishes its op in flight
    (bounded by the op and leader timeouts; a straggler is cancelled)."""
    cfg = driver_config(env)
    t0 = time.monotonic()
    tasks = [asyncio.create_task(run_worker(i, workload, cfg, recorder, env.seed, env.stop,
                                            env.stats, t0)) for i in range(cfg.workers)]
    await env.stop.wait()
    _, late = await asyncio.wait(tasks, timeout=cfg.op_timeout + cfg.leader_wait + 5)
    for t in late:
        t.cancel()
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]


class Connections:
    """One worker's connections, one per node, opened on demand."""

    def __init__(self, cfg: DriverConfig) -> None:
        self.cfg = cfg
        self.conns: dict[str, Client] = {}
        self.leader: str | None = None

    async def get(self, node: str) -> Client:
        c = self.conns.get(node)
        if c is None or c.is_closed:
            c = await Client.connect(self.cfg.remotes[node], timeout=1.0)
            self.conns[node] = c
        return c

    async def drop(self, node: str) -> None:
        c = self.conns.pop(node, None)
        if c is not None:
            await c.close()
        if self.leader == node:
            self.leader = None

    async def close(self) -> None:
        for node in list(self.conns):
            await self.drop(node)

    async def is_leader(self, node: str) -> bool:
        try:
            c = await self.get(node)
            res = await c.transact("_Server", [
                {"op": "select", "table": "Database", "where": [["name", "==", self.cfg.db]],
                 "columns": ["leader", "connected"]}], timeout=0.5)
            rows = res[0]["rows"]
            return bool(rows) and rows[0]["leader"] is True and rows[0]["connected"] is True
        except RpcError as e:
            # A server without the _Server database has no notion of a leader: any
            # member will do.
            return e.error == "unknown database"
        except (OSError, RpcTimeout, ConnectionLost, KeyError, IndexError,
                TypeError, asyncio.TimeoutError):
            await self.drop(node)
            return False

    async def find_leader(self, deadline: float) -> str | None:
        nodes = list(self.cfg.remotes)
        if not self.cfg.clustered:
            return nodes[0]
        if self.leader is not None and await self.is_leader(self.leader):
            return self.leader
        self.leader = None
        while time.monotonic() < deadline:
            found = await asyncio.gather(*(self.is_leader(n) for n in nodes))
            for node, yes in zip(nodes, found, strict=True):
                if yes:
                    self.leader = node
                    return node
            await asyncio.sleep(0.1)
        return None


async def setup_rows(workload: Workload, cfg: DriverConfig, recorder: Any,
                     timeout: float = 30.0) -> None:
    """Create every key's row through the leader and record it as done."""
    conns = Connections(cfg)
    deadline = time.monotonic() + timeout
    try:
        while True:
            node = await conns.find_leader(deadline)
            if node is None:
                raise TimeoutError(f"no leader among {list(cfg.remotes)} within {timeout}s")
            try:
                c = await conns.get(node)
                res = await c.transact(cfg.db, workload.setup_txn(), timeout=5.0)
                break
            except (OSError, RpcTimeout, ConnectionLost) as e:
                await conns.drop(node)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"setup transaction failed: {e}") from e
        err = workload.error_outcome(res)
        if err is not None:
            raise RuntimeError(f"setup transaction failed: {err.error}")
        for op in workload.initial_ops():
            recorder.invoke(SETUP_PROCESS, op.f, op.value, key=op.key)
            recorder.ok(SETUP_PROCESS)
    finally:
        await conns.close()


def invoke_value(op: OpSpec) -> Any:
    return op.value


async def run_worker(index: int, workload: Workload, cfg: DriverConfig, recorder: Any,
                     seed: int | str, stop: asyncio.Event, stats: Stats,
                     t0: float) -> None:
    planned_ops = workload.plan(seed, index, cfg.mean_gap)
    process = index
    nodes = list(cfg.remotes)
    home = nodes[index % len(nodes)]
    conns = Connections(cfg)
    seen: dict[str, Any] = {}
    try:
        for _ in range(cfg.max_ops):
            if stop.is_set():
                break
            planned, gap = next(planned_ops)
            writes = planned.f in workload.mutating
            if writes or cfg.reads == "leader":
                node = await conns.find_leader(time.monotonic() + cfg.leader_wait)
            else:
                node = home
            if node is None or stop.is_set():
                stats.counts["skipped"] += 1
                continue
            try:
                client = await conns.get(node)
            except (OSError, asyncio.TimeoutError):
                stats.counts["skipped"] += 1
                await pause(stop, max(gap, 0.1))
                continue
            op = workload.bind(planned, seen)
            txn = workload.txn(op, seen)
            recorder.invoke(process, op.f, invoke_value(op), key=op.key, node=node)
            started = time.monotonic()
            try:
                result = await client.transact(cfg.db, txn, timeout=cfg.op_timeout)
                outcome = workload.interpret(op, result)
            except RpcTimeout:
                outcome = Outcome("info", error="timeout")
            except ConnectionLost as e:
                outcome = Outcome("info", error=f"connection lost: {e}")
            except RpcError as e:
                outcome = Outcome("info", error=f"rpc error: {e.error}")
            record(recorder, stats, process, outcome, invoke_value(op), op.f,
                   started - t0, time.monotonic() - started)
            workload.observe(op, outcome, seen)
            if outcome.type == "info":
                process += cfg.workers
                await conns.drop(node)
            await pause(stop, gap)
    finally:
        await conns.close()


def record(recorder: Any, stats: Stats, process: int, outcome: Outcome, invoked: Any,
           f: str, at: float, latency: float) -> None:
    """Record how an op ended (an op that is not ok keeps its invoke's value) and count
    it for the progress line and the latency plot."""
    extra = {"error": outcome.error} if outcome.error else {}
    value = outcome.value if outcome.type == "ok" else invoked
    recorder.complete(process, outcome.type, value, **extra)
    stats.counts[outcome.type] += 1
    stats.latencies.append((at, latency, outcome.type, f))


async def pause(stop: asyncio.Event, seconds: float) -> None:
    if seconds <= 0:
        return
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass
