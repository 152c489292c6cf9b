"""Monitor workload: writers change a small table while monitoring clients record what
they receive, for :mod:`harness.monitor_check`.

Data: ``Item`` rows (``name``, ``value``, ``tag``) of ``harness/schemas/crucible.ovsschema``
and one clock row in ``Cell`` (``key == "clock"``).  Every write transaction is::

    [mutate Cell clock value += 1, select Cell clock value, <1-2 Item ops>]

so its reply names its place in the commit order (the select sees the bumped clock),
and every monitor update names the transaction it brings (the clock row is in every
monitor).  Item values are tokens no other write uses, so a row value names its writer.

Writers talk to the server directly (``write_remote``); monitoring clients may go
through a fault proxy (``monitor_remote``).  Each client monitors with
``monitor_cond_since`` (or plain ``monitor_cond``, every third client) under a seeded
condition, and at seeded moments changes its condition (``monitor_cond_change``) or
drops its connection and resumes with the last txn id it saw.  A server without
history (standalone ovsdb-server) answers found=false and sends everything again; the
checker holds that to a full resync.  When the writers are done each client waits
until it has seen the last transaction (bounded), so convergence can be checked.

``run = await run_monitor_workload(write_remote, monitor_remote, MonitorConfig(...))``;
``run.writes`` and ``run.streams`` are the checker's inputs; ``run.check()`` checks
them; ``run.to_dict()`` is JSON-ready.  Everything random comes from ``config.seed``;
every loop is bounded by a count and by ``config.time_limit_s``.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from harness.client import Client, ConnectionLost, Notification, RpcError, RpcTimeout
from harness.monitor_check import Report, check

CLOCK_TABLE, CLOCK_KEY = "Cell", "clock"
TABLE = "Item"
COLUMNS = {CLOCK_TABLE: ["key", "value"], TABLE: ["name", "value", "tag"]}
TAGS = ("x", "y", "z")
CLOCK_WHERE = [["key", "==", CLOCK_KEY]]
# Conditions clients choose from (ORed clauses; [] = every row).
CONDITIONS: list[list[Any]] = [
    [],
    [["tag", "==", "x"]],
    [["tag", "!=", "y"]],
    [["tag", "==", "x"], ["tag", "==", "z"]],
    [["value", "<", 2_000_000]],
    [False],
]
_REPLY = "__reply__"  # marker put in the notification queue when a reply arrives


@dataclass
class MonitorConfig:
    db: str = "Crucible"
    writers: int = 2
    clients: int = 3
    txns: int = 40             # write transactions in all
    initial_rows: int = 3
    max_rows: int = 8
    cond_changes: int = 2      # per client, at most
    reconnects: int = 2        # voluntary disconnect + resume, per client, at most
    change_every: int = 4      # a client acts after about this many updates
    seed: int = 0
    time_limit_s: float = 30.0
    settle_s: float = 10.0     # how long clients may take to reach the last txn
    write_pause_s: float = 0.0  # between a writer's transactions
    # Fixed starting conditions, one per client (default: seeded choice per client).
    conditions: list[list[Any]] | None = None


@dataclass
class MonitorRun:
    writes: dict[str, Any]
    streams: list[dict[str, Any]]
    schema: dict[str, Any] | None = None
    indeterminate: int = 0      # writes without a definite reply
    notes: list[str] = field(default_factory=list)

    def check(self) -> Report:
        return check(self.writes, self.streams, clock=(CLOCK_TABLE, "value"),
                     schema=self.schema, quiescent=True)

    def to_dict(self) -> dict[str, Any]:
        return {"writes": self.writes, "streams": self.streams,
                "indeterminate": self.indeterminate, "notes": self.notes}


class _OrderedClient(Client):
    """A Client whose notification queue also marks where each reply arrived, so the
    recorder knows which updates came before a ``monitor_cond_change`` reply."""

    def _dispatch(self, msg: Any) -> None:
        if isinstance(msg, dict) and msg.get("method") is None and msg.get("id") is not None:
            self.notifications.put_nowait(Notification(_REPLY, msg.get("id"),
                                                       time.monotonic_ns()))
        super()._dispatch(msg)


def _requests(cond: list[Any]) -> dict[str, Any]:
    return {CLOCK_TABLE: [{"columns": COLUMNS[CLOCK_TABLE], "where": CLOCK_WHERE}],
            TABLE: [{"columns": COLUMNS[TABLE], "where": cond}]}


def _conds(cond: list[Any]) -> dict[str, list[Any]]:
    return {CLOCK_TABLE: CLOCK_WHERE, TABLE: cond}


class _Shared:
    """What the writers know together: live rows, committed txns, the budget."""

    def __init__(self, cfg: MonitorConfig) -> None:
        self.cfg = cfg
        self.rows: dict[str, dict[str, Any]] = {}  # uuid -> row, as far as writers know
        self.txns: dict[int, dict[str, Any]] = {}
        self.left = cfg.txns
        self.indeterminate = 0
        self.deadline = time.monotonic() + cfg.time_limit_s
        self.writers_done = asyncio.Event()


def _plan(rng: random.Random, shared: _Shared, token: int) -> list[tuple[str, Any, dict]]:
    """1-2 Item ops: (kind, uuid or uuid-name, full row or {})."""
    ops: list[tuple[str, Any, dict]] = []
    live = sorted(shared.rows)
    for i in range(rng.choice((1, 1, 2))):
        r = rng.random()
        value = token * 10 + i
        if not live or (r < 0.35 and len(live) < shared.cfg.max_rows):
            ops.append(("insert", f"new{i}", {"name": f"n{value}", "value": value,
                                              "tag": rng.choice(TAGS)}))
        elif r < 0.8:
            u = rng.choice(live)
            ops.append(("update", u, {"name": shared.rows[u]["name"], "value": value,
                                      "tag": rng.choice(TAGS)}))
        else:
            u = rng.choice(live)
            ops.append(("delete", u, {}))
    # One transaction touches a row at most once, so its effect is easy to state.
    seen: set[Any] = set()
    return [op for op in ops if not (op[1] in seen or seen.add(op[1]))]


def _txn_ops(plan: list[tuple[str, Any, dict]]) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = [
        {"op": "mutate", "table": CLOCK_TABLE, "where": CLOCK_WHERE,
         "mutations": [["value", "+=", 1]]},
        {"op": "select", "table": CLOCK_TABLE, "where": CLOCK_WHERE, "columns": ["value"]}]
    for kind, u, row in plan:
        if kind == "insert":
            ops.append({"op": "insert", "table": TABLE, "row": row, "uuid-name": u})
        elif kind == "update":
            ops.append({"op": "update", "table": TABLE, "where": [["_uuid", "==", ["uuid", u]]],
                        "row": row})
        else:
            ops.append({"op": "delete", "table": TABLE, "where": [["_uuid", "==", ["uuid", u]]]})
    return ops


async def _writer(wid: int, remote: str, shared: _Shared, rng: random.Random) -> None:
    cfg = shared.cfg
    client = await Client.connect(remote)
    serial = 0
    try:
        while shared.left > 0 and time.monotonic() < shared.deadline:
            shared.left -= 1
            serial += 1
            token = (wid + 1) * 100_000 + serial  # *10 + op index below 2_000_000 for w0
            plan = _plan(rng, shared, token)
            try:
                result = await client.transact(cfg.db, _txn_ops(plan), timeout=10)
            except (RpcTimeout, ConnectionLost, RpcError):
                shared.indeterminate += 1
                break
            if any(isinstance(r, dict) and "error" in r for r in result):
                raise RuntimeError(f"monitor workload write failed: {result}")
            seq = result[1]["rows"][0]["value"]
            changes: dict[str, Any] = {}
            for (kind, u, row), res in zip(plan, result[2:], strict=False):
                if kind == "insert":
                    uid = res["uuid"][1]
                    changes[uid] = row
                    shared.rows[uid] = row
                elif res.get("count") == 1:
                    changes[u] = row if kind == "update" else None
                    if kind == "update":
                        shared.rows[u] = row
                    else:
                        shared.rows.pop(u, None)
                else:
                    shared.rows.pop(u, None)  # another writer deleted it first
            shared.txns[seq] = {"seq": seq, "changes": {
                CLOCK_TABLE: {}, TABLE: changes}}
            if cfg.write_pause_s:
                await asyncio.sleep(rng.uniform(0, cfg.write_pause_s))
    finally:
        await client.close()


def _clock(updates: Any) -> int | None:
    for ch in (updates or {}).get(CLOCK_TABLE, {}).values():
        for op in ("initial", "insert"):
            if op in ch:
                return int(ch[op].get("value", 0))
        if "value" in (ch.get("modify") or {}):
            return int(ch["modify"]["value"])
    return None


class _Watcher:
    """One monitoring client: keeps a connection, records every event in order."""

    def __init__(self, cid: int, remote: str, shared: _Shared, rng: random.Random) -> None:
        self.name = f"m{cid}"
        self.remote = remote
        self.shared = shared
        self.rng = rng
        self.since = cid % 3 != 2  # every third client uses plain monitor_cond
        fixed = shared.cfg.conditions
        self.cond = fixed[cid % len(fixed)] if fixed else rng.choice(CONDITIONS)
        self.events: list[dict[str, Any]] = []
        self.last_txn_id: str | None = None
        self.clock = -1
        self.client: Client | None = None
        self.mid = 0
        self.changes_left = shared.cfg.cond_changes
        self.reconnects_left = shared.cfg.reconnects
        self.pending_change = False

    async def _connect(self) -> bool:
        """(Re)connect and monitor; retried while the deadline allows."""
        cfg = self.shared.cfg
        for _ in range(50):
            if time.monotonic() > self.shared.deadline + cfg.settle_s:
                return False
            try:
                self.client = await _OrderedClient.connect(self.remote, timeout=2)
                self.mid += 1
                mid = [self.name, self.mid]
                if self.since:
                    found, last, updates = await self.client.monitor_cond_since(
                        cfg.db, mid, _requests(self.cond), self.last_txn_id, timeout=5)
                    ev = {"type": "monitor", "method": "monitor_cond_since",
                          "cond": _conds(self.cond), "columns": COLUMNS,
                          "since": self.last_txn_id, "found": found, "last_txn_id": last,
                          "updates": updates}
                    self.last_txn_id = last
                else:
                    updates = await self.client.monitor_cond(cfg.db, mid, _requests(self.cond),
                                                             timeout=5)
                    ev = {"type": "monitor", "method": "monitor_cond",
                          "cond": _conds(self.cond), "columns": COLUMNS, "updates": updates}
                self.events.append(ev)
                c = _clock(updates)
                if c is not None:
                    self.clock = c
                return True
            except (OSError, RpcTimeout, ConnectionLost, RpcError):
                if self.client is not None:
                    await self.client.close()
                    self.client = None
                await asyncio.sleep(0.1)
        return False

    async def _drop(self) -> None:
        self.events.append({"type": "disconnect"})
        self.pending_change = False
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _act(self) -> None:
        """A seeded action after an update: maybe change the condition or reconnect."""
        assert self.client is not None
        if self.rng.randrange(self.shared.cfg.change_every) != 0 or self.pending_change:
            return
        if self.changes_left and (not self.reconnects_left or self.rng.random() < 0.5):
            self.changes_left -= 1
            new = self.rng.choice([c for c in CONDITIONS if c != self.cond])
            self.events.append({"type": "cond_change", "cond": {TABLE: new}})
            self.cond = new
            self.pending_change = True
            mid = [self.name, self.mid]
            self.mid += 1
            # The reply is seen through the marker in the notification queue.
            asyncio.get_running_loop().create_task(self._change(
                mid, [self.name, self.mid], {TABLE: [{"where": new}]}))
        elif self.reconnects_left:
            self.reconnects_left -= 1
            await self._drop()
            await self._connect()

    async def _change(self, old: Any, new: Any, req: dict[str, Any]) -> None:
        client = self.client
        try:
            assert client is not None
            await client.monitor_cond_change(old, new, req, timeout=10)
        except (RpcTimeout, ConnectionLost, RpcError, OSError, AssertionError):
            pass  # the recorder sees the disconnect; a refused change is recorded below

    async def run(self) -> None:
        cfg = self.shared.cfg
        if not await self._connect():
            return
        hard_stop = self.shared.deadline + cfg.settle_s
        while time.monotonic() < hard_stop:
            done = self.shared.writers_done.is_set()
            if done and self.clock >= len(self.shared.txns) and not self.pending_change:
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
                if self.pending_change:
                    self.pending_change = False
                    self.events.append({"type": "cond_change_reply", "error": None})
                continue
            if n.method in ("update2", "update3"):
                params = n.params
                updates = params[2] if n.method == "update3" else params[1]
                ev: dict[str, Any] = {"type": "update", "updates": updates}
                if n.method == "update3":
                    ev["last_txn_id"] = params[1]
                    self.last_txn_id = params[1]
                self.events.append(ev)
                c = _clock(updates)
                if c is not None:
                    self.clock = max(self.clock, c)
                if not done:
                    await self._act()
        if self.client is not None:
            await self.client.close()


async def _setup(remote: str, cfg: MonitorConfig, rng: random.Random,
                 shared: _Shared) -> tuple[dict[str, Any], dict[str, Any] | None]:
    client = await Client.connect(remote)
    try:
        schema = await client.get_schema(cfg.db, timeout=10)
        rows = [{"name": f"init{i}", "value": i + 1, "tag": rng.choice(TAGS)}
                for i in range(cfg.initial_rows)]
        ops: list[dict[str, Any]] = [
            {"op": "insert", "table": CLOCK_TABLE, "row": {"key": CLOCK_KEY, "value": 0}},
            *({"op": "insert", "table": TABLE, "row": r} for r in rows)]
        # The database must be fresh: the clock row must not exist yet.
        ops.insert(0, {"op": "wait", "table": CLOCK_TABLE, "where": CLOCK_WHERE,
                       "columns": ["key"], "until": "==", "rows": [], "timeout": 0})
        result = await client.transact(cfg.db, ops, timeout=10)
        if any(isinstance(r, dict) and "error" in r for r in result):
            raise RuntimeError(f"monitor workload setup failed (fresh database needed): "
                               f"{result}")
        clock_uuid = result[1]["uuid"][1]
        items = {res["uuid"][1]: r for r, res in zip(rows, result[2:], strict=True)}
        shared.rows.update(items)
        initial = {CLOCK_TABLE: {clock_uuid: {"key": CLOCK_KEY, "value": 0}}, TABLE: items}
        return initial, schema
    finally:
        await client.close()


async def run_monitor_workload(write_remote: str, monitor_remote: str,
                               cfg: MonitorConfig | None = None) -> MonitorRun:
    cfg = cfg or MonitorConfig()
    rng = random.Random(cfg.seed)
    shared = _Shared(cfg)
    initial, schema = await _setup(write_remote, cfg, rng, shared)
    watchers = [_Watcher(i, monitor_remote, shared, random.Random(rng.random()))
                for i in range(cfg.clients)]
    tasks = [asyncio.get_running_loop().create_task(w.run()) for w in watchers]
    # Let every client get its first snapshot before writes begin (bounded wait).
    for _ in range(100):
        if all(w.events for w in watchers) or any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.02)
    writer_rngs = [random.Random(rng.random()) for _ in range(cfg.writers)]
    try:
        await asyncio.gather(*(_writer(i, write_remote, shared, writer_rngs[i])
                               for i in range(cfg.writers)))
    finally:
        shared.writers_done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    txns = [shared.txns[s] for s in sorted(shared.txns)]
    run = MonitorRun({"initial": initial, "txns": txns},
                     [{"client": w.name, "events": w.events} for w in watchers],
                     schema=schema, indeterminate=shared.indeterminate)
    if shared.indeterminate:
        run.notes.append(f"{shared.indeterminate} writes had no definite reply: "
                         "the write history may be incomplete")
    return run
