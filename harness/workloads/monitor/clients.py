"""The monitor workload's recording clients (the asyncio shell around the plan).

Writers run their planned intents against ``write_remote`` and record each
transaction as an op (invoke, then ok, fail or info).  Monitoring clients connect to
``monitor_remote`` (often a fault proxy), monitor under their planned condition, take
their planned actions (``monitor_cond_change``, or drop the connection and resume with
the last txn id seen; a connection lost to a fault is resumed the same way) and record
every reply and update as an event.  A server without history (standalone
ovsdb-server) answers found=false and sends everything again; the checker holds that
to a full resync.  When the writers are done each client waits until it has seen the
last transaction (bounded), so convergence can be checked.  The event shapes are in
``harness.checkers.monitor.history``.

Writes whose reply is lost are settled by the checker from the final read (the clock
says how many transactions committed, the write log which ones), so faults may sit on
the writers' links too.  Every loop is bounded by a count and by the time limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

from harness.checkers.monitor.history import (
    FINAL_PROCESS,
    FINAL_READ,
    SETUP,
    SETUP_PROCESS,
    TXN,
)
from harness.client import Client, ConnectionLost, Notification, RpcError, RpcTimeout
from harness.history import Recorder
from harness.workloads.monitor import txns
from harness.workloads.monitor.plan import (
    TABLE,
    ClientPlan,
    MonitorConfig,
    MonitorPlan,
    WriteIntent,
    bind,
)

_REPLY = "__reply__"  # marker put in the notification queue when a reply arrives
ERRORS = (OSError, RpcTimeout, ConnectionLost, RpcError)


class _OrderedClient(Client):
    """A Client whose notification queue also marks where each reply arrived (with the
    reply), so a monitoring client knows which updates came before the reply to its
    ``monitor_cond_change``: the checker holds the replica to the new condition from
    that point.  The only difference from ``Client``, which has no such hook."""

    def _dispatch(self, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("method") is None and msg.get("id") is not None:
            self.notifications.put_nowait(Notification(_REPLY, msg, time.monotonic_ns()))
        super()._dispatch(msg)


class Shared:
    """What the writers and clients know together: live rows, the budget, the end."""

    def __init__(self, cfg: MonitorConfig, stop: asyncio.Event | None) -> None:
        self.cfg = cfg
        self.rows: dict[str, dict[str, Any]] = {}  # uuid -> row, as far as writers know
        self.committed = 0  # the highest transaction a writer saw commit
        self.target = 0  # the last transaction, once the writers are done
        self.left = cfg.txns
        self.deadline = time.monotonic() + cfg.time_limit_s
        # Clients stop by then; moved to "settle_s after the final read" once known.
        self.hard_stop = self.deadline + cfg.settle_s
        self.writers_done = asyncio.Event()
        self.stop = stop or asyncio.Event()  # set by a campaign when load time is up

    def writing(self) -> bool:
        return self.left > 0 and time.monotonic() < self.deadline and not self.stop.is_set()


async def setup(remote: str, cfg: MonitorConfig, plan: MonitorPlan,
                recorder: Recorder) -> None:
    """Create the clock, the write log and the initial rows; record them with the
    schema (the checker needs the column kinds)."""
    rows = plan.rows()
    recorder.invoke(SETUP_PROCESS, SETUP, {"rows": rows})
    client = await Client.connect(remote)
    try:
        schema = await client.get_schema(cfg.db, timeout=10)
        result = await client.transact(cfg.db, txns.setup_ops(rows), timeout=10)
        if any(isinstance(r, dict) and "error" in r for r in result):
            recorder.fail(SETUP_PROCESS, error=str(result))
            raise RuntimeError(f"monitor workload setup failed (fresh database needed): "
                               f"{result}")
        recorder.ok(SETUP_PROCESS, {"initial": txns.setup_initial(rows, result),
                                    "schema": schema})
    except ERRORS as e:
        recorder.info(SETUP_PROCESS, error=str(e))
        raise
    finally:
        await client.close()


async def _reconnect(remote: str, shared: Shared) -> Client | None:
    while time.monotonic() < shared.deadline:
        try:
            return await Client.connect(remote, timeout=2)
        except OSError:
            await asyncio.sleep(0.2)
    return None


async def writer(wid: int, remote: str, shared: Shared, intents: Iterator[WriteIntent],
                 recorder: Recorder, stats: Any = None) -> None:
    """One writer: one transaction at a time; after an ``info`` it goes on under a new
    process number (``+ writers``), as Jepsen's processes do."""
    cfg = shared.cfg
    process = wid
    client: Client | None = await Client.connect(remote)
    clock: int | None = None
    try:
        while shared.writing():
            if client is None or client.is_closed:
                if client is not None:
                    await client.close()
                client = await _reconnect(remote, shared)
                if client is None:
                    break
            try:
                if clock is None:
                    res = await client.transact(cfg.db, txns.read_clock_ops(),
                                                timeout=cfg.write_timeout_s)
                    clock = int(res[0]["rows"][0]["value"])
            except ERRORS:
                await client.close()
                continue
            if not shared.writing():
                break  # the budget went to another writer while this one read the clock
            intent = next(intents)
            plan = bind(intent, shared.rows, cfg.max_rows)
            shared.left -= 1  # reserved before the call, so writers never overshoot
            recorder.invoke(process, TXN, {"clock": clock, "token": intent.token,
                                           "plan": [list(op) for op in plan]})
            try:
                result = await client.transact(cfg.db, txns.txn_ops(plan, clock, intent.token),
                                               timeout=cfg.write_timeout_s)
            except ERRORS as e:
                # Indeterminate: if it committed, it is transaction clock + 1.
                recorder.info(process, error=f"{type(e).__name__}: {e}")
                _count(stats, "info")
                process += cfg.writers
                clock = None
                await client.close()
                continue
            if isinstance(result[0], dict) and result[0].get("error") == "timed out":
                # Another writer took clock + 1: certainly not committed (the write log
                # says whether the server told the truth).  Read the clock, try again.
                recorder.fail(process, error="timed out")
                _count(stats, "fail")
                shared.left += 1
                clock = None
                continue
            if any(isinstance(r, dict) and "error" in r for r in result):
                recorder.info(process, error=str(result))
                raise RuntimeError(f"monitor workload write failed: {result}")
            clock += 1
            changes = txns.txn_changes(plan, result, shared.rows)
            recorder.ok(process, {"seq": clock, "changes": {TABLE: changes}})
            _count(stats, "ok")
            shared.committed = max(shared.committed, clock)
            if intent.pause_s:
                await asyncio.sleep(intent.pause_s)
    finally:
        if client is not None:
            await client.close()


def _count(stats: Any, kind: str) -> None:
    """Progress counts for a campaign's status line (the history has the ops)."""
    if stats is not None:
        stats.counts[kind] += 1


async def final_read(remote: str, cfg: MonitorConfig,
                     recorder: Recorder) -> txns.Final | None:
    """The final clock, Item rows and write log, read in one transaction (bounded
    retries), recorded for the checker to settle the lost replies."""
    recorder.invoke(FINAL_PROCESS, FINAL_READ)
    deadline = time.monotonic() + cfg.settle_s
    error = "no attempt"
    while time.monotonic() < deadline:
        try:
            client = await Client.connect(remote, timeout=2)
            try:
                res = await client.transact(cfg.db, txns.final_read_ops(), timeout=5)
            finally:
                await client.close()
            clock, rows, log = txns.final_from_reply(res)
            recorder.ok(FINAL_PROCESS, {"clock": clock, "rows": rows, "log": sorted(log)})
            return clock, rows, log
        except (*ERRORS, KeyError, TypeError, IndexError) as e:
            error = f"{type(e).__name__}: {e}"
            await asyncio.sleep(0.2)
    recorder.info(FINAL_PROCESS, error=error)
    return None


class Watcher:
    """One monitoring client: keeps a connection, records every event in order."""

    def __init__(self, plan: ClientPlan, remote: str, shared: Shared,
                 recorder: Recorder) -> None:
        self.plan = plan
        self.name = plan.name
        self.remote = remote
        self.shared = shared
        self.recorder = recorder
        self.cond = list(plan.cond)
        self.actions = list(plan.actions)
        self.updates = 0  # updates received (the plan's actions count them)
        self.started = False  # has had a monitor reply
        self.last_txn_id: str | None = None
        self.clock = -1
        self.client: Client | None = None
        self.mid = 0
        self.change_pending = False

    def record(self, kind: str, **value: Any) -> None:
        self.recorder.event(kind, value, process=self.name)

    async def _connect(self) -> bool:
        """(Re)connect and monitor; retried while the deadline allows."""
        cfg = self.shared.cfg
        for _ in range(50):
            if time.monotonic() > self.shared.hard_stop:
                return False
            try:
                self.client = await _OrderedClient.connect(self.remote, timeout=2)
                self.mid += 1
                mid = [self.name, self.mid]
                if self.plan.since:
                    found, last, updates = await self.client.monitor_cond_since(
                        cfg.db, mid, txns.requests(self.cond), self.last_txn_id, timeout=5)
                    self.record("monitor", method="monitor_cond_since",
                                cond=txns.conds(self.cond), columns=txns.COLUMNS,
                                since=self.last_txn_id, found=found, last_txn_id=last,
                                updates=updates)
                    self.last_txn_id = last
                else:
                    updates = await self.client.monitor_cond(
                        cfg.db, mid, txns.requests(self.cond), timeout=5)
                    self.record("monitor", method="monitor_cond", cond=txns.conds(self.cond),
                                columns=txns.COLUMNS, updates=updates)
                self.started = True
                c = txns.clock_of(updates)
                if c is not None:
                    self.clock = c
                return True
            except ERRORS:
                if self.client is not None:
                    await self.client.close()
                    self.client = None
                await asyncio.sleep(0.1)
        return False

    async def _drop(self) -> None:
        self.record("disconnect")
        self.change_pending = False
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _act(self) -> None:
        """The plan's next action, once enough updates have arrived."""
        if not self.actions or self.updates < self.actions[0].after or self.change_pending:
            return
        action = self.actions.pop(0)
        if action.kind == "cond_change":
            new = list(action.cond or ())
            self.record("cond_change", cond={TABLE: new})
            old_cond, self.cond = self.cond, new
            # Recorded where the reply's marker shows up in the notification queue.
            self.change_pending = True
            mid = [self.name, self.mid]
            self.mid += 1
            asyncio.get_running_loop().create_task(self._change(
                mid, [self.name, self.mid], {TABLE: [{"where": new}]}, old_cond))
        else:
            await self._drop()
            await self._connect()

    async def _change(self, old: Any, new: Any, req: dict[str, Any],
                      old_cond: list[Any]) -> None:
        client = self.client
        try:
            assert client is not None
            await client.monitor_cond_change(old, new, req, timeout=10)
        except RpcError:
            # Refused: the server kept the old condition and the old monitor id (the
            # reply's marker records the error).
            if self.client is client:
                self.cond = old_cond
                self.mid -= 1
        except (RpcTimeout, ConnectionLost, OSError, AssertionError):
            pass  # the recorder sees the disconnect

    async def run(self) -> None:
        if not await self._connect():
            return
        while time.monotonic() < self.shared.hard_stop:
            done = self.shared.writers_done.is_set()
            if done and self.clock >= self.shared.target and not self.change_pending:
                break
            if self.client is None or self.client.is_closed:
                if self.client is not None:
                    await self._drop()
                if not await self._connect():
                    return
                continue
            try:
                n = await self.client.next_notification(0.2)
            except RpcTimeout:
                continue
            if n.method == _REPLY:
                if self.change_pending:
                    error = n.params.get("error") if isinstance(n.params, dict) else None
                    self.record("cond_change_reply",
                                error=None if error is None else str(error))
                    self.change_pending = False
                continue
            if n.method in ("update2", "update3"):
                params = n.params
                updates = params[2] if n.method == "update3" else params[1]
                if n.method == "update3":
                    self.last_txn_id = params[1]
                    self.record("update", updates=updates, last_txn_id=params[1])
                else:
                    self.record("update", updates=updates)
                self.updates += 1
                c = txns.clock_of(updates)
                if c is not None:
                    self.clock = max(self.clock, c)
                if not done:
                    await self._act()
        if self.client is not None:
            await self.client.close()
