"""The I/O loop of the list-append workload: ``env.workers`` workers share one
transaction generator and record each transaction as an op ``f="txn"`` (Elle's
history shape) in the campaign's history.

Per transaction: pick the node (the leader for any transaction that appends, or for
every one when ``reads="leader"``; otherwise the worker's own member), read the keys it
will append to (not recorded: it only tells the guards what to expect), then invoke
the transaction and record how it ended.  No reply in time is ``info`` and the worker
continues as a new process on a fresh connection, as in ``harness.workloads.driver``,
whose connection handling this shares.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

from harness.client import ConnectionLost, RpcError, RpcTimeout
from harness.elle.txns import F
from harness.workloads.driver import Connections, DriverConfig, driver_config, pause, record
from harness.workloads.ops import Outcome

if TYPE_CHECKING:
    from harness.elle.generate import TxnGen
    from harness.workloads.env import RunEnv, Stats
    from harness.workloads.list_append import ListAppend

_LOST = (RpcTimeout, ConnectionLost, RpcError, OSError, asyncio.TimeoutError)


async def run_txns(workload: ListAppend, env: RunEnv, recorder: Any) -> None:
    cfg = driver_config(env)
    gen = workload.generator(env.seed)
    t0 = time.monotonic()
    tasks = [asyncio.create_task(_worker(i, workload, gen, cfg, recorder, env.seed,
                                         env.stop, env.stats, t0))
             for i in range(cfg.workers)]
    await env.stop.wait()
    _, late = await asyncio.wait(tasks, timeout=2 * cfg.op_timeout + cfg.leader_wait + 5)
    for t in late:
        t.cancel()
    for t in tasks:
        if not t.cancelled() and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]


async def _worker(index: int, workload: ListAppend, gen: TxnGen, cfg: DriverConfig,
                  recorder: Any, seed: int | str, stop: asyncio.Event, stats: Stats,
                  t0: float) -> None:
    pauses = random.Random(f"{seed}:list-append:pause:{index}")
    process = index
    nodes = list(cfg.remotes)
    home = nodes[index % len(nodes)]
    conns = Connections(cfg)
    try:
        for _ in range(cfg.max_ops):
            if stop.is_set():
                break
            mops = gen.next()
            gap = pauses.uniform(0, 2 * cfg.mean_gap)
            appends = workload.appended_keys(mops)
            if appends or cfg.reads == "leader":
                node = await conns.find_leader(time.monotonic() + cfg.leader_wait)
            else:
                node = home
            pre = None
            if node is not None and not stop.is_set():
                pre = await _pre_read(workload, conns, cfg, node, appends)
            if pre is None:
                stats.counts["skipped"] += 1
                await pause(stop, max(gap, 0.1))
                continue
            ops, answers = workload.txn(mops, pre)
            recorder.invoke(process, F, workload.invoke_value(mops), node=node)
            started = time.monotonic()
            try:
                client = await conns.get(node)
                result = await client.transact(cfg.db, ops, timeout=cfg.op_timeout)
                outcome = workload.interpret(mops, answers, result)
            except _LOST as e:
                outcome = Outcome("info", error=f"{type(e).__name__}: {e}")
            record(recorder, stats, process, outcome, workload.invoke_value(mops), F,
                   started - t0, time.monotonic() - started)
            if outcome.type == "info":
                process += cfg.workers
                await conns.drop(node)
            await pause(stop, gap)
    finally:
        await conns.close()


async def _pre_read(workload: ListAppend, conns: Connections, cfg: DriverConfig, node: str,
                    keys: list[int]) -> dict[int, Any] | None:
    """What the keys to append to hold now ({} when there are none); None if the node
    could not be asked (the transaction is skipped, not recorded)."""
    if not keys:
        return {}
    try:
        client = await conns.get(node)
        result = await client.transact(cfg.db, workload.pre_read(keys),
                                       timeout=cfg.op_timeout)
    except _LOST:
        await conns.drop(node)
        return None
    return workload.read_pre(keys, result)


__all__ = ["run_txns"]
