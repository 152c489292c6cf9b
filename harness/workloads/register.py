"""Register and compare-and-set register workloads over one ``Cell.value`` per key.

register:     ``read`` and ``write v``; with ``prereq`` a write is
              ``[wait value == last seen, update value = v]`` and fails (no effect) when
              the value moved on, which the register model accepts.
cas-register: adds ``cas [old, new]`` = ``[wait value == old, update value = new]``.
Setup inserts every row with value 0, recorded as a ``write 0`` so that the model
(which starts at nil) starts where the database does.
"""

from __future__ import annotations

import random
from typing import Any

from harness.workloads.base import TABLE, Workload, where_key
from harness.workloads.ops import OpSpec, Outcome


class Register(Workload):
    name = "register"
    model = "register"
    mutating = frozenset({"write"})

    def initial_ops(self) -> list[OpSpec]:
        return [OpSpec("write", k, 0) for k in self.keys]

    def generate(self, rng: random.Random, worker: int) -> OpSpec:
        key = rng.choice(self.keys)
        if rng.random() < self.read_ratio:
            return OpSpec("read", key)
        return OpSpec("write", key, self.unique(rng, worker))

    def _update(self, key: str, value: int) -> dict[str, Any]:
        return {"op": "update", "table": TABLE, "where": where_key(key),
                "row": {"value": value}}

    def txn(self, op: OpSpec, seen: dict[str, Any]) -> list[dict[str, Any]]:
        if op.f == "read":
            return self.read_txn(op.key, ["value"])
        if op.f == "write":
            pre = [self.wait_value(op.key, seen.get(op.key, 0))] if self.prereq else []
            return [*pre, self._update(op.key, op.value)]
        raise ValueError(f"{self.name}: unknown op {op.f!r}")

    def interpret(self, op: OpSpec, result: list[Any]) -> Outcome:
        bad = self.error_outcome(result)
        if bad is not None:
            return bad
        if op.f == "read":
            value, bad = self.selected(result, "value")
            return bad or Outcome("ok", value)
        count = result[-1].get("count") if isinstance(result[-1], dict) else None
        if count != 1:
            return Outcome("info", error=f"update touched {count!r} rows")
        return Outcome("ok", op.value)

    def observe(self, op: OpSpec, outcome: Outcome, seen: dict[str, Any]) -> None:
        if outcome.type != "ok":
            return
        if op.f == "read":
            seen[op.key] = outcome.value
        elif op.f == "write":
            seen[op.key] = op.value
        elif op.f == "cas":
            seen[op.key] = op.value[1]


class CasRegister(Register):
    name = "cas-register"
    model = "cas-register"
    mutating = frozenset({"write", "cas"})

    def generate(self, rng: random.Random, worker: int) -> OpSpec:
        key = rng.choice(self.keys)
        r = rng.random()
        if r < self.read_ratio:
            return OpSpec("read", key)
        if r < self.read_ratio + (1 - self.read_ratio) / 2:
            return OpSpec("write", key, self.unique(rng, worker))
        # The old value is filled in at run time from what this process last saw
        # (a cas on a random old value would nearly always fail); the plan keeps None.
        return OpSpec("cas", key, [None, self.unique(rng, worker)])

    def bind(self, op: OpSpec, seen: dict[str, Any]) -> OpSpec:
        if op.f == "cas" and op.value[0] is None:
            return OpSpec("cas", op.key, [seen.get(op.key, 0), op.value[1]])
        return op

    def txn(self, op: OpSpec, seen: dict[str, Any]) -> list[dict[str, Any]]:
        if op.f == "cas":
            old, new = op.value
            return [self.wait_value(op.key, old), self._update(op.key, new)]
        return super().txn(op, seen)
