"""Set workload: ``add x`` is ``mutate elems insert [x]``; ``read`` returns the sorted
elements.  Every added element is unique, so a lost or resurrected add is visible."""

from __future__ import annotations

import random
from typing import Any

from harness.workloads.base import TABLE, Workload, decode_set, where_key
from harness.workloads.ops import OpSpec, Outcome


class SetWorkload(Workload):
    name = "set"
    model = "set"
    mutating = frozenset({"add"})

    def generate(self, rng: random.Random, worker: int) -> OpSpec:
        key = rng.choice(self.keys)
        if rng.random() < self.read_ratio:
            return OpSpec("read", key)
        return OpSpec("add", key, self.unique(rng, worker))

    def txn(self, op: OpSpec, seen: dict[str, Any]) -> list[dict[str, Any]]:
        if op.f == "read":
            return self.read_txn(op.key, ["elems"])
        return [{"op": "mutate", "table": TABLE, "where": where_key(op.key),
                 "mutations": [["elems", "insert", ["set", [op.value]]]]}]

    def interpret(self, op: OpSpec, result: list[Any]) -> Outcome:
        bad = self.error_outcome(result)
        if bad is not None:
            return bad
        if op.f == "read":
            elems, bad = self.selected(result, "elems")
            return bad or Outcome("ok", decode_set(elems))
        count = result[0].get("count") if isinstance(result[0], dict) else None
        if count != 1:
            return Outcome("info", error=f"mutate touched {count!r} rows")
        return Outcome("ok", op.value)
