"""The monitor workload's plan: what each writer and each monitoring client does, and
when, drawn from the seed alone (pure: no I/O, no clock).

- set-up: the initial ``Item`` rows;
- writer w: an endless, seeded sequence of write intents (``writer_intents``), taken
  one per transaction attempt until the run's budget or time is spent.  An intent says
  how many ``Item`` ops and, for each, a kind draw, which live row and which tag; it is
  bound to the rows live at run time by ``bind`` (the way a cas binds its old value),
  since which rows exist depends on how the writers' races went;
- client c: its condition, whether it uses ``monitor_cond_since`` (two clients in
  three) or plain ``monitor_cond``, and its actions: after how many updates it changes
  its condition (to which) or drops its connection and resumes.

Same seed and config, same plan; the interleaving is up to the machine.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

CLOCK_TABLE, CLOCK_KEY = "Cell", "clock"
TABLE = "Item"
TAGS = ("x", "y", "z")
# Conditions clients choose from (ORed clauses; [] = every row).
CONDITIONS: list[list[Any]] = [
    [],
    [["tag", "==", "x"]],
    [["tag", "!=", "y"]],
    [["tag", "==", "x"], ["tag", "==", "z"]],
    [["value", "<", 2_000_000]],
    [False],
]
MAX_UPDATES_PLANNED = 10_000  # a client's actions fall within this many updates


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


@dataclass(frozen=True)
class ItemOp:
    """One planned op on an ``Item`` row, before it is bound to the live rows."""

    draw: float  # < 0.35: insert (when there is room), < 0.8: update, else delete
    pick: float  # which live row, as a fraction of the sorted live rows
    tag: str


@dataclass(frozen=True)
class WriteIntent:
    serial: int
    token: int  # unique to this write: row values and the write log derive from it
    ops: tuple[ItemOp, ...]
    pause_s: float  # after this write


@dataclass(frozen=True)
class Action:
    after: int  # taken at the first update past this many (no change in flight)
    kind: Literal["cond_change", "reconnect"]
    cond: tuple[Any, ...] | None = None  # the new condition of a cond_change


@dataclass(frozen=True)
class ClientPlan:
    name: str
    since: bool  # monitor_cond_since (else plain monitor_cond)
    cond: tuple[Any, ...]  # the starting condition
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class MonitorPlan:
    seed: int
    initial_rows: tuple[tuple[tuple[str, Any], ...], ...]
    clients: tuple[ClientPlan, ...]
    writers: int

    def rows(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.initial_rows]

    def writer_intents(self, wid: int, write_pause_s: float = 0.0) -> Iterator[WriteIntent]:
        return writer_intents(self.seed, wid, write_pause_s)


def make_plan(cfg: MonitorConfig) -> MonitorPlan:
    setup = random.Random(f"{cfg.seed}:monitor:setup")
    rows = tuple(tuple({"name": f"init{i}", "value": i + 1,
                        "tag": setup.choice(TAGS)}.items()) for i in range(cfg.initial_rows))
    return MonitorPlan(cfg.seed, rows,
                       tuple(client_plan(cfg, c) for c in range(cfg.clients)), cfg.writers)


def client_plan(cfg: MonitorConfig, cid: int) -> ClientPlan:
    rng = random.Random(f"{cfg.seed}:monitor:client:{cid}")
    fixed = cfg.conditions
    cond = fixed[cid % len(fixed)] if fixed else rng.choice(CONDITIONS)
    changes, reconnects = cfg.cond_changes, cfg.reconnects
    actions: list[Action] = []
    current = cond
    for n in range(1, MAX_UPDATES_PLANNED):
        if not (changes or reconnects):
            break
        if rng.randrange(cfg.change_every) != 0:
            continue
        if changes and (not reconnects or rng.random() < 0.5):
            changes -= 1
            current = rng.choice([c for c in CONDITIONS if c != current])
            actions.append(Action(n, "cond_change", tuple(current)))
        else:
            reconnects -= 1
            actions.append(Action(n, "reconnect"))
    return ClientPlan(f"m{cid}", cid % 3 != 2, tuple(cond), tuple(actions))


def writer_intents(seed: int, wid: int, write_pause_s: float = 0.0) -> Iterator[WriteIntent]:
    rng = random.Random(f"{seed}:monitor:writer:{wid}")
    serial = 0
    while True:
        serial += 1
        # Token * 10 + op index stays below 2_000_000 for writer 0 (a condition tests it).
        token = (wid + 1) * 100_000 + serial
        ops = tuple(ItemOp(rng.random(), rng.random(), rng.choice(TAGS))
                    for _ in range(rng.choice((1, 1, 2))))
        yield WriteIntent(serial, token, ops, rng.uniform(0, write_pause_s))


Planned = tuple[str, Any, dict[str, Any]]  # (kind, uuid or uuid-name, full row or {})


def bind(intent: WriteIntent, live: dict[str, dict[str, Any]],
         max_rows: int) -> list[Planned]:
    """The intent's ops on the rows live now: (kind, uuid or uuid-name, row)."""
    names = sorted(live)
    ops: list[Planned] = []
    for i, op in enumerate(intent.ops):
        value = intent.token * 10 + i
        if not names or (op.draw < 0.35 and len(names) < max_rows):
            ops.append(("insert", f"new{i}", {"name": f"n{value}", "value": value,
                                              "tag": op.tag}))
            continue
        u = names[min(len(names) - 1, int(op.pick * len(names)))]
        if op.draw < 0.8:
            ops.append(("update", u, {"name": live[u]["name"], "value": value,
                                      "tag": op.tag}))
        else:
            ops.append(("delete", u, {}))
    # One transaction touches a row at most once, so its effect is easy to state.
    seen: set[Any] = set()
    return [op for op in ops if not (op[1] in seen or seen.add(op[1]))]
