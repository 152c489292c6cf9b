"""Counter workload: ``add n`` is ``mutate value += n``; ``read`` selects the value.

No prerequisite on adds (they commute), so a transaction applied twice shows up as a
count the model cannot reach.
"""

from __future__ import annotations

import random
from typing import Any

from harness.workloads.base import TABLE, Workload, where_key
from harness.workloads.ops import OpSpec, Outcome


class Counter(Workload):
    name = "counter"
    model = "counter"
    mutating = frozenset({"add"})

    def generate(self, rng: random.Random, worker: int) -> OpSpec:
        key = rng.choice(self.keys)
        if rng.random() < self.read_ratio:
            return OpSpec("read", key)
        return OpSpec("add", key, rng.randint(1, 5))

    def txn(self, op: OpSpec, seen: dict[str, Any]) -> list[dict[str, Any]]:
        if op.f == "read":
            return self.read_txn(op.key, ["value"])
        return [{"op": "mutate", "table": TABLE, "where": where_key(op.key),
                 "mutations": [["value", "+=", op.value]]}]

    def interpret(self, op: OpSpec, result: list[Any]) -> Outcome:
        bad = self.error_outcome(result)
        if bad is not None:
            return bad
        if op.f == "read":
            value, bad = self.selected(result, "value")
            return bad or Outcome("ok", value)
        count = result[0].get("count") if isinstance(result[0], dict) else None
        if count != 1:
            return Outcome("info", error=f"mutate touched {count!r} rows")
        return Outcome("ok", op.value)
