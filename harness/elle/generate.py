"""List-append transactions as Elle's generator makes them, and a simulated store that
runs them: the workload plans with the first, tests and the benchmark use the second.

``TxnGen(rng, key_count=3, max_txn_length=4, max_writes_per_key=32)``: each ``next()``
is a transaction of 1 to ``max_txn_length`` micro-ops, each a read or an append of the
next integer for a key drawn from ``key_count`` active keys; a key that has had
``max_writes_per_key`` appends is retired and a fresh key takes its place (key
rotation: lists stay short, and new keys keep being contended).

``simulate(n, seed, processes=5, ...)`` runs ``n`` such transactions on a store that is
strict serializable (each applies atomically at one instant between its invoke and its
completion) with some failing and some indeterminate, and returns the history.  A
valid history of any size, for tests and for timing the checker; with ``stale`` > 0
that fraction of transactions read a version behind (an anomaly to find).
"""

from __future__ import annotations

import random
from typing import Any

from harness.elle.txns import APPEND, READ
from harness.history import Op


class TxnGen:
    def __init__(self, rng: random.Random, key_count: int = 3, max_txn_length: int = 4,
                 max_writes_per_key: int = 32, read_ratio: float = 0.5) -> None:
        self.rng = rng
        self.max_txn_length = max_txn_length
        self.max_writes_per_key = max_writes_per_key
        self.read_ratio = read_ratio
        self.active = list(range(key_count))
        self.next_key = key_count
        self.writes: dict[int, int] = {}

    def next(self) -> list[list[Any]]:
        mops: list[list[Any]] = []
        for _ in range(self.rng.randint(1, self.max_txn_length)):
            slot = self.rng.randrange(len(self.active))
            k = self.active[slot]
            if self.rng.random() < self.read_ratio:
                mops.append([READ, k, None])
                continue
            n = self.writes.get(k, 0) + 1
            self.writes[k] = n
            mops.append([APPEND, k, n])
            if n >= self.max_writes_per_key:
                self.active[slot] = self.next_key  # rotate the key out
                self.next_key += 1
        return mops


def apply(store: dict[Any, list[Any]], mops: list[list[Any]],
          stale: bool = False) -> list[list[Any]]:
    """Run a transaction on ``store`` at once; the micro-ops with what they read.
    ``stale``: its reads miss each key's last element (a bug to plant)."""
    out = []
    for f, k, v in mops:
        if f == APPEND:
            store.setdefault(k, []).append(v)
            out.append([f, k, v])
        else:
            seen = list(store.get(k, []))
            out.append([f, k, seen[:-1] if stale else seen])
    return out


def simulate(n: int, seed: int = 0, processes: int = 5, fail: float = 0.02,
             info: float = 0.02, stale: float = 0.0, **gen: Any) -> list[Op]:
    rng = random.Random(seed)
    txns = TxnGen(rng, **gen)
    store: dict[Any, list[Any]] = {}
    ops: list[Op] = []
    # process -> [mops, result (None until it has taken effect), fate]
    running: dict[int, list[Any]] = {}
    idle = list(range(processes))
    next_process = processes
    started = 0

    def emit(p: int, typ: str, value: Any) -> None:
        ops.append(Op(len(ops), len(ops), p, typ, "txn", value))

    while started < n or running:
        if idle and started < n and (not running or rng.random() < 0.4):
            p = idle.pop(rng.randrange(len(idle)))
            mops = txns.next()
            fate = "fail" if rng.random() < fail else "info" if rng.random() < info else "ok"
            running[p] = [mops, None, fate]
            emit(p, "invoke", mops)
            started += 1
            continue
        p = rng.choice(list(running))
        mops, result, fate = running[p]
        if result is None and fate != "fail" and rng.random() < 0.6:
            # the instant it takes effect
            running[p][1] = apply(store, mops, stale=rng.random() < stale)
            continue
        if fate == "ok" and result is None:
            continue  # an ok transaction completes only after it took effect
        del running[p]
        if fate == "info":
            emit(p, "info", mops)
            idle.append(next_process)  # the process is never reused after info
            next_process += 1
            continue
        emit(p, fate, result if fate == "ok" else mops)
        idle.append(p)
    return ops
