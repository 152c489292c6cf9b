"""What a workload is: a seeded generator of operations plus, for each operation, the
OVSDB transaction that performs it and the reading of its reply.  Pure: no I/O here
(the driver, ``harness.workloads.driver``, moves the bytes: ``setup`` and ``run`` only
hand the workload to it), so every workload is testable without a server.  A workload
names its checkers: linearizability with its ``model``, and the pictures.

All workloads use the ``Cell`` table of ``harness/schemas/crucible.ovsschema``: one row
per key (``key`` is indexed), an integer ``value``, an integer set ``elems``, and
``ticks``, which reads may bump so that they are committed through Raft.

Two modes matter on a cluster:

- ``prereq``: writes start with a ``wait`` op on the value this process last saw for
  the key, so a write is a compare-and-set.  A forwarded or re-executed transaction can
  then never apply twice or on top of a value its writer did not see.
- ``sync_reads``: a read also mutates ``ticks``, so it is a real transaction that the
  leader must commit; a read that commits saw the latest state.  Without it a read is a
  bare ``select`` answered from the member's local copy (stale on a follower, as OVS
  documents).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from harness.workloads.ops import OpSpec, Outcome

if TYPE_CHECKING:
    from harness.checkers import Checker
    from harness.history import Recorder
    from harness.workloads.env import RunEnv

TABLE = "Cell"

# Errors after which the transaction certainly did not commit.  Anything else (or no
# reply) is indeterminate.
DEFINITE_ERRORS = frozenset({
    "timed out", "constraint violation", "referential integrity violation",
    "domain error", "range error", "syntax error", "unknown column", "not allowed",
    "duplicate uuid-name", "duplicate uuid", "aborted",
})


def where_key(key: str) -> list[list[Any]]:
    return [["key", "==", key]]


def ovsdb_set(values: list[int]) -> Any:
    return ["set", list(values)]


def decode_set(datum: Any) -> list[Any]:
    """OVSDB wire form of a set (bare atom for one element) -> sorted list."""
    if isinstance(datum, list) and len(datum) == 2 and datum[0] == "set":
        return sorted(datum[1])
    return [datum]


def first_error(result: list[Any]) -> str | None:
    for r in result:
        if isinstance(r, dict) and "error" in r:
            return str(r["error"])
    return None


class Workload:
    """Base class.  Subclasses set ``name``/``model`` and fill in the hooks."""

    name = "base"
    model = "register"
    mutating = frozenset({"write"})  # op names that change state

    def __init__(self, keys: int = 4, prereq: bool = False, sync_reads: bool = False,
                 read_ratio: float = 0.5) -> None:
        self.keys = [f"k{i}" for i in range(keys)]
        self.prereq = prereq
        self.sync_reads = sync_reads
        self.read_ratio = read_ratio
        self._next_value = 0
        self.workers = 1  # rows of the timeline; set from the campaign at setup

    # -- what a campaign runs and checks (see harness.workloads.env) -------------------

    def checkers(self) -> list[Checker]:
        from harness.checkers import LatencyPlot, Linearizability, Timeline

        return [Linearizability(self.model), Timeline(workers=self.workers), LatencyPlot()]

    async def setup(self, env: RunEnv, recorder: Recorder) -> None:
        # The driver is the I/O shell around this pure class, imported here only.
        from harness.workloads.driver import driver_config, setup_rows

        self.workers = env.workers
        await setup_rows(self, driver_config(env), recorder)

    async def run(self, env: RunEnv, recorder: Recorder) -> None:
        from harness.workloads.driver import run_ops

        await run_ops(self, env, recorder)

    # -- generation (pure, seeded) ----------------------------------------------------

    def unique(self, rng: random.Random, worker: int) -> int:
        """A value no other write used: distinct writes make violations easy to see."""
        return worker * 1_000_000 + rng.randrange(1, 1_000_000)

    def generate(self, rng: random.Random, worker: int) -> OpSpec:
        raise NotImplementedError

    def plan(self, seed: int | str, worker: int,
             mean_gap: float = 0.05) -> Iterator[tuple[OpSpec, float]]:
        """Worker ``worker``'s ops and the pause after each, drawn from
        ``Random(f"{seed}:worker:{worker}")`` only: the same seed gives the same ops in
        the same order per worker (timing decides how far each worker gets)."""
        rng = random.Random(f"{seed}:worker:{worker}")
        while True:
            op = self.generate(rng, worker)
            yield op, rng.uniform(0, 2 * mean_gap)

    # -- transactions -----------------------------------------------------------------

    def setup_txn(self) -> list[dict[str, Any]]:
        """Insert every key's row in one transaction (idempotent with a wait first is
        not needed: setup runs once on a fresh database)."""
        return [{"op": "insert", "table": TABLE,
                 "row": {"key": k, "value": 0, "elems": ovsdb_set([]), "ticks": 0}}
                for k in self.keys]

    def initial_ops(self) -> list[OpSpec]:
        """Ops to record as done by setup, so the model starts where the database does."""
        return []

    def read_txn(self, key: str, columns: list[str]) -> list[dict[str, Any]]:
        ops: list[dict[str, Any]] = [
            {"op": "select", "table": TABLE, "where": where_key(key), "columns": columns}]
        if self.sync_reads:
            ops.append({"op": "mutate", "table": TABLE, "where": where_key(key),
                        "mutations": [["ticks", "+=", 1]]})
        return ops

    def wait_value(self, key: str, expected: int) -> dict[str, Any]:
        return {"op": "wait", "table": TABLE, "where": where_key(key), "columns": ["value"],
                "until": "==", "rows": [{"value": expected}], "timeout": 0}

    def bind(self, op: OpSpec, seen: dict[str, Any]) -> OpSpec:
        """Fill in what only run time knows (a cas's old value) before the invoke."""
        return op

    def txn(self, op: OpSpec, seen: dict[str, Any]) -> list[dict[str, Any]]:
        """The transaction's ops; ``seen`` is what this process last saw, per key."""
        raise NotImplementedError

    def interpret(self, op: OpSpec, result: list[Any]) -> Outcome:
        raise NotImplementedError

    def observe(self, op: OpSpec, outcome: Outcome, seen: dict[str, Any]) -> None:
        """Update this process's view of the key after an op (for prerequisites)."""

    # -- shared reading of replies ----------------------------------------------------

    def error_outcome(self, result: list[Any]) -> Outcome | None:
        if not isinstance(result, list):
            return Outcome("info", error=f"malformed reply {result!r}")
        err = first_error(result)
        if err is None:
            return None
        return Outcome("fail" if err in DEFINITE_ERRORS else "info", error=err)

    def selected(self, result: list[Any], column: str) -> tuple[Any, Outcome | None]:
        rows = result[0].get("rows") if isinstance(result[0], dict) else None
        if not isinstance(rows, list) or len(rows) != 1:
            return None, Outcome("info", error=f"expected one row, got {rows!r}")
        return rows[0].get(column), None
