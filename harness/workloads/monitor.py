"""Monitor workload: writers change a small table while monitoring clients record what
they receive, for :mod:`harness.monitor_check`.

Data: ``Item`` rows (``name``, ``value``, ``tag``) of ``harness/schemas/crucible.ovsschema``
and one clock row in ``Cell`` (``key == "clock"``).  Every write transaction is::

    [wait Cell clock value == c, update Cell clock value = c + 1, <1-2 Item ops>]

a compare-and-set on the clock (a writer that loses the race reads the clock again and
retries), so transaction n is the one that moved the clock to n, and every monitor
update names the transaction it brings (the clock row is in every monitor).  Item
values are tokens no other write uses, so a row value names its writer.

Writes whose reply is lost are resolved after the run: the clock says how many
transactions committed, an indeterminate write could only have been number c + 1,
and a row it inserted is found by its unique name (see ``resolve_unknown``).  So
faults may sit on the writers' links too (``write_remote`` may be a proxy).

Monitoring clients connect to ``monitor_remote`` (often a fault proxy).  Each client
monitors with ``monitor_cond_since`` (or plain ``monitor_cond``, every third client)
under a seeded condition, and at seeded moments changes its condition
(``monitor_cond_change``) or drops its connection and resumes with the last txn id it
saw; a connection lost to a fault is resumed the same way.  A server without history
(standalone ovsdb-server) answers found=false and sends everything again; the checker
holds that to a full resync.  When the writers are done each client waits until it
has seen the last transaction (bounded), so convergence can be checked.

``run = await run_monitor_workload(write_remote, monitor_remote, MonitorConfig(...))``;
``run.writes`` and ``run.streams`` are the checker's inputs; ``run.check()`` checks
them; ``run.to_dict()`` is JSON-ready.  Everything random comes from ``config.seed``;
every loop is bounded by a count and by ``config.time_limit_s``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from harness.client import Client, ConnectionLost, Notification, RpcError, RpcTimeout
from harness.monitor_check import Report, check

CLOCK_TABLE, CLOCK_KEY = "Cell", "clock"
TABLE = "Item"
COLUMNS = {CLOCK_TABLE: ["key", "value"], TABLE: ["name", "value", "tag"]}
TAGS = ("x", "y", "z")
CLOCK_WHERE = [["key", "==", CLOCK_KEY]]
# A Cell row whose integer set collects the token of every committed write, so lost
# replies can be settled exactly after the run.  Monitors do not watch it.
LOG_WHERE = [["key", "==", "txnlog"]]
# Conditions clients choose from (ORed clauses; [] = every row).
CONDITIONS: list[list[Any]] = [
    [],
    [["tag", "==", "x"]],
    [["tag", "!=", "y"]],
    [["tag", "==", "x"], ["tag", "==", "z"]],
    [["value", "<", 2_000_000]],
    [False],
]
# What the run reads at the end: clock, Item rows by uuid, tokens of committed writes.
Final = tuple[int, dict[str, dict[str, Any]], set[int]]
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
    write_timeout_s: float = 10.0  # no reply by then: the write is indeterminate
    # Fixed starting conditions, one per client (default: seeded choice per client).
    conditions: list[list[Any]] | None = None
    # Awaited when the writers are done, before the final read and the clients' settle:
    # a campaign stops its nemesis and heals here, since convergence is only owed once
    # the network is whole again.
    before_settle: Callable[[], Awaitable[None]] | None = None


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
        self.unknown: list[dict[str, Any]] = []  # writes without a definite reply
        # Writes answered "timed out" on the clock's wait: certainly not committed, if
        # the server tells the truth; the write log says whether it did.
        self.refused: list[dict[str, Any]] = []
        self.target = 0  # the last transaction, once the writers are done
        self.left = cfg.txns
        self.deadline = time.monotonic() + cfg.time_limit_s
        # Clients stop by then; moved to "settle_s after the final read" once known.
        self.hard_stop = self.deadline + cfg.settle_s
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


def _txn_ops(plan: list[tuple[str, Any, dict]], clock: int,
             token: int) -> list[dict[str, Any]]:
    """The clock is a compare-and-set: a transaction commits only as number clock + 1,
    so even a write whose reply is lost has a known place if it committed."""
    ops: list[dict[str, Any]] = [
        {"op": "wait", "table": CLOCK_TABLE, "where": CLOCK_WHERE, "columns": ["value"],
         "until": "==", "rows": [{"value": clock}], "timeout": 0},
        {"op": "update", "table": CLOCK_TABLE, "where": CLOCK_WHERE,
         "row": {"value": clock + 1}},
        {"op": "mutate", "table": CLOCK_TABLE, "where": LOG_WHERE,
         "mutations": [["elems", "insert", ["set", [token]]]]}]
    for kind, u, row in plan:
        if kind == "insert":
            ops.append({"op": "insert", "table": TABLE, "row": row, "uuid-name": u})
        elif kind == "update":
            ops.append({"op": "update", "table": TABLE, "where": [["_uuid", "==", ["uuid", u]]],
                        "row": row})
        else:
            ops.append({"op": "delete", "table": TABLE, "where": [["_uuid", "==", ["uuid", u]]]})
    return ops


async def _read_clock(client: Client, db: str, timeout: float) -> int:
    res = await client.transact(db, [{"op": "select", "table": CLOCK_TABLE,
                                      "where": CLOCK_WHERE, "columns": ["value"]}],
                                timeout=timeout)
    return int(res[0]["rows"][0]["value"])


async def _reconnect(remote: str, shared: _Shared) -> Client | None:
    while time.monotonic() < shared.deadline:
        try:
            return await Client.connect(remote, timeout=2)
        except OSError:
            await asyncio.sleep(0.2)
    return None


async def _writer(wid: int, remote: str, shared: _Shared, rng: random.Random) -> None:
    cfg = shared.cfg
    client: Client | None = await Client.connect(remote)
    serial = 0
    clock: int | None = None
    try:
        while shared.left > 0 and time.monotonic() < shared.deadline:
            if client is None or client.is_closed:
                if client is not None:
                    await client.close()
                client = await _reconnect(remote, shared)
                if client is None:
                    break
            try:
                if clock is None:
                    clock = await _read_clock(client, cfg.db, cfg.write_timeout_s)
            except (RpcTimeout, ConnectionLost, RpcError, OSError):
                await client.close()
                continue
            if shared.left <= 0:
                break  # the budget went to another writer while this one read the clock
            serial += 1
            token = (wid + 1) * 100_000 + serial  # *10 + op index below 2_000_000 for w0
            plan = _plan(rng, shared, token)
            shared.left -= 1  # reserved before the call, so writers never overshoot
            try:
                result = await client.transact(cfg.db, _txn_ops(plan, clock, token),
                                               timeout=cfg.write_timeout_s)
            except (RpcTimeout, ConnectionLost, RpcError, OSError):
                # Indeterminate: if it committed, it is transaction clock + 1.
                shared.unknown.append({"seq": clock + 1, "token": token, "plan": plan})
                clock = None
                await client.close()
                continue
            if isinstance(result[0], dict) and result[0].get("error") == "timed out":
                shared.refused.append({"seq": clock + 1, "token": token, "plan": plan})
                shared.left += 1
                clock = None  # another writer took clock + 1: read it again and retry
                continue
            if any(isinstance(r, dict) and "error" in r for r in result):
                raise RuntimeError(f"monitor workload write failed: {result}")
            clock += 1
            changes: dict[str, Any] = {}
            for (kind, u, row), res in zip(plan, result[3:], strict=False):
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
            shared.txns[clock] = {"seq": clock, "changes": {TABLE: changes}}
            if cfg.write_pause_s:
                await asyncio.sleep(rng.uniform(0, cfg.write_pause_s))
    finally:
        if client is not None:
            await client.close()


def resolve_unknown(initial: dict[str, dict[str, Any]], known: dict[int, dict[str, Any]],
                    unknown: list[dict[str, Any]], final_clock: int,
                    final_rows: dict[str, dict[str, Any]],
                    committed: set[int] | None = None) -> tuple[list[dict[str, Any]],
                                                                list[str]]:
    """Complete the write history with the indeterminate writes that did commit.

    Transaction n committed iff the clock reached n; if no write with a reply is n, it
    is the indeterminate write that claimed n and whose token is in the ``committed``
    log (when given; without the log several claimants cannot be told apart).  Its
    effects follow from the state before it (an update or delete counts only if the
    row was there), and a row it
    inserted is found by its unique name in the final table: no writer knew its uuid,
    so nothing touched it later.  Returns the txns 1..final_clock and problems.
    """
    state = {u: dict(r) for u, r in initial.items()}
    by_name = {r.get("name"): u for u, r in final_rows.items()}
    txns: list[dict[str, Any]] = []
    problems: list[str] = []
    for seq in range(1, final_clock + 1):
        if seq in known:
            txn = known[seq]
        else:
            cands = [x for x in unknown if x["seq"] == seq and
                     (committed is None or x.get("token") in committed) and
                     all(row["name"] in by_name for kind, _, row in x["plan"]
                         if kind == "insert")]
            if len(cands) != 1:
                problems.append(f"transaction {seq}: {len(cands)} candidate writes "
                                "(lost replies cannot be told apart)")
                break
            changes: dict[str, Any] = {}
            for kind, u, row in cands[0]["plan"]:
                if kind == "insert":
                    changes[by_name[row["name"]]] = row
                elif u in state:
                    changes[u] = row if kind == "update" else None
            txn = {"seq": seq, "changes": {TABLE: changes}}
        for u, r in txn["changes"].get(TABLE, {}).items():
            if r is None:
                state.pop(u, None)
            else:
                state[u] = r
        txns.append(txn)
    return txns, problems


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
        self.pending_change: dict[str, Any] | None = None

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
        self.pending_change = None
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
            old_cond, self.cond = self.cond, new
            # Recorded where the reply's marker shows up in the notification queue; the
            # call's own outcome fills in "error" (the same dict) if it was refused.
            self.pending_change = {"type": "cond_change_reply", "error": None}
            mid = [self.name, self.mid]
            self.mid += 1
            asyncio.get_running_loop().create_task(self._change(
                mid, [self.name, self.mid], {TABLE: [{"where": new}]}, old_cond,
                self.pending_change))
        elif self.reconnects_left:
            self.reconnects_left -= 1
            await self._drop()
            await self._connect()

    async def _change(self, old: Any, new: Any, req: dict[str, Any], old_cond: list[Any],
                      reply: dict[str, Any]) -> None:
        client = self.client
        try:
            assert client is not None
            await client.monitor_cond_change(old, new, req, timeout=10)
        except RpcError as e:
            # Refused: the server kept the old condition and the old monitor id.
            reply["error"] = str(e.error)
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
            if done and self.clock >= self.shared.target and not self.pending_change:
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
                    self.events.append(self.pending_change)
                    self.pending_change = None
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
            {"op": "insert", "table": CLOCK_TABLE, "row": {"key": LOG_WHERE[0][2]}},
            *({"op": "insert", "table": TABLE, "row": r} for r in rows)]
        # The database must be fresh: the clock row must not exist yet.
        ops.insert(0, {"op": "wait", "table": CLOCK_TABLE, "where": CLOCK_WHERE,
                       "columns": ["key"], "until": "==", "rows": [], "timeout": 0})
        result = await client.transact(cfg.db, ops, timeout=10)
        if any(isinstance(r, dict) and "error" in r for r in result):
            raise RuntimeError(f"monitor workload setup failed (fresh database needed): "
                               f"{result}")
        clock_uuid = result[1]["uuid"][1]
        items = {res["uuid"][1]: r for r, res in zip(rows, result[3:], strict=True)}
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
    notes: list[str] = []
    final: Final | None = None
    try:
        await asyncio.gather(*(_writer(i, write_remote, shared, writer_rngs[i])
                               for i in range(cfg.writers)))
        if cfg.before_settle is not None:
            shared.hard_stop = float("inf")
            await cfg.before_settle()
        final = await _final_read(write_remote, cfg, shared)
    finally:
        # Clients wait (bounded) until they have seen the last transaction.
        shared.target = final[0] if final else max(shared.txns, default=0)
        shared.hard_stop = time.monotonic() + cfg.settle_s
        shared.writers_done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    if final is not None:
        txns, problems = resolve_unknown(initial[TABLE], shared.txns,
                                         shared.unknown + shared.refused,
                                         final[0], final[1], final[2])
        notes += problems
        # A write the server refused must not be in the log of committed writes.
        for x in shared.refused:
            if x["token"] in final[2]:
                notes.append(f"ANOMALY: write {x['token']} was refused (its wait on clock "
                             f"{x['seq'] - 1} failed) but committed")
    else:
        txns = [shared.txns[s] for s in sorted(shared.txns)]
        notes.append("could not read the final state: indeterminate writes unresolved")
    if shared.unknown:
        notes.append(f"{len(shared.unknown)} writes had no definite reply; "
                     f"{len(txns) - len(shared.txns)} of them committed")
    return MonitorRun({"initial": initial, "txns": txns},
                      [{"client": w.name, "events": w.events} for w in watchers],
                      schema=schema, indeterminate=len(shared.unknown), notes=notes)


async def _final_read(remote: str, cfg: MonitorConfig, shared: _Shared) -> Final | None:
    """The final clock, Item rows and write log, read in one transaction (bounded
    retries)."""
    deadline = time.monotonic() + cfg.settle_s
    while time.monotonic() < deadline:
        try:
            client = await Client.connect(remote, timeout=2)
            try:
                res = await client.transact(cfg.db, [
                    {"op": "select", "table": CLOCK_TABLE, "where": CLOCK_WHERE,
                     "columns": ["value"]},
                    {"op": "select", "table": TABLE, "where": [],
                     "columns": ["_uuid", *COLUMNS[TABLE]]},
                    {"op": "select", "table": CLOCK_TABLE, "where": LOG_WHERE,
                     "columns": ["elems"]}], timeout=5)
            finally:
                await client.close()
            rows = {r["_uuid"][1]: {c: r[c] for c in COLUMNS[TABLE]} for r in res[1]["rows"]}
            elems = res[2]["rows"][0]["elems"]
            log = set(elems[1]) if isinstance(elems, list) and elems[:1] == ["set"] \
                else {elems}
            return int(res[0]["rows"][0]["value"]), rows, log
        except (OSError, RpcTimeout, ConnectionLost, RpcError, KeyError, TypeError):
            await asyncio.sleep(0.2)
    return None
