"""The list-append workload: transactions of appends and reads over several keys in two
tables, checked for transactional anomalies (``harness.elle``).  Pure; the I/O loop is
``harness.workloads.list_append_run``.

A key is a row of ``ListA`` (even keys) or ``ListB`` (odd keys), found by its ``key``
column (indexed).  Its list is the ``elems`` map, position -> element: reading the
row and sorting by position gives the list in order.  OVSDB has no append, so an
append is optimistic: the worker first reads the keys it will append to (a separate
transaction, not recorded), then the recorded transaction guards each such key with a
``wait`` that its map is still exactly what was read (or, for a key with no row yet,
that there is no row) and inserts ``{position: element}`` at the next position, or
inserts the row.  A guard that no longer holds fails the whole transaction (``wait``
with timeout 0: "timed out", certainly not committed), so a correct server never lets
two appends take the same position; a map rather than a string column keeps each
append a small ``mutate`` and makes the position of every element visible.

Transactions come from Elle's generator (``harness.elle.generate.TxnGen``): 1 to
``max_txn_length`` micro-ops, each a read or an append of the key's next integer, over
``keys`` active keys, each retired after ``max_writes_per_key`` appends.  One generator
serves every worker, in the order they ask (Jepsen's generator is shared the same
way): the same seed gives the same sequence of transactions.

Reads: with ``sync_reads`` a transaction without appends also bumps ``ticks`` of every
key it reads, so it commits through Raft like a write.  The checker demands
strict serializability, or serializability when reads go to followers on a cluster
(they may be stale, which only real-time order rules out).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from harness.elle.generate import TxnGen
from harness.elle.txns import APPEND, READ
from harness.workloads.base import DEFINITE_ERRORS, first_error
from harness.workloads.ops import Outcome

if TYPE_CHECKING:
    from harness.checkers import Checker
    from harness.history import Recorder
    from harness.workloads.env import RunEnv

TABLES = ("ListA", "ListB")
Mops = list[list[Any]]


def table(key: int) -> str:
    return TABLES[key % 2]


def where(key: int) -> list[list[Any]]:
    return [["key", "==", str(key)]]


def decode_list(rows: Any) -> list[Any] | None:
    """A select's rows -> the key's list (no row: empty); None when unreadable."""
    if not isinstance(rows, list) or len(rows) > 1:
        return None
    if not rows:
        return []
    datum = rows[0].get("elems") if isinstance(rows[0], dict) else None
    if not (isinstance(datum, list) and len(datum) == 2 and datum[0] == "map"):
        return None
    return [v for _, v in sorted(datum[1])]


def encode_map(elems: list[Any]) -> list[Any]:
    return ["map", [[i, v] for i, v in enumerate(elems)]]


class ListAppend:
    name = "list-append"

    def __init__(self, keys: int = 3, prereq: bool = False, sync_reads: bool = False,
                 read_ratio: float = 0.5, max_txn_length: int = 4,
                 max_writes_per_key: int = 16) -> None:
        self.keys = keys
        self.prereq = prereq  # appends always carry their guard; kept for the protocol
        self.sync_reads = sync_reads
        self.read_ratio = read_ratio
        self.max_txn_length = max_txn_length
        self.max_writes_per_key = max_writes_per_key
        self.model = "strict-serializable"
        self.workers = 1

    def generator(self, seed: int | str) -> TxnGen:
        return TxnGen(random.Random(f"{seed}:list-append"), self.keys, self.max_txn_length,
                      self.max_writes_per_key, self.read_ratio)

    # -- what a campaign runs and checks ----------------------------------------------

    def checkers(self) -> list[Checker]:
        from harness.checkers import LatencyPlot, Timeline
        from harness.checkers.elle import Transactions

        return [Transactions(self.model), Timeline(workers=self.workers), LatencyPlot()]

    async def setup(self, env: RunEnv, recorder: Recorder) -> None:
        # Rows appear with their first append; nothing to create.
        self.workers = env.workers
        if env.clustered and env.reads == "node":
            self.model = "serializable"

    async def run(self, env: RunEnv, recorder: Recorder) -> None:
        from harness.workloads.list_append_run import run_txns

        await run_txns(self, env, recorder)

    # -- transactions (pure) ----------------------------------------------------------

    @staticmethod
    def appended_keys(mops: Mops) -> list[int]:
        return list(dict.fromkeys(k for f, k, _ in mops if f == APPEND))

    def pre_read(self, keys: list[int]) -> list[dict[str, Any]]:
        return [{"op": "select", "table": table(k), "where": where(k), "columns": ["elems"]}
                for k in keys]

    def read_pre(self, keys: list[int], result: Any) -> dict[int, list[Any] | None] | None:
        """What the pre-read saw: key -> list, or None for a key with no row."""
        if not isinstance(result, list) or first_error(result) is not None:
            return None
        seen: dict[int, list[Any] | None] = {}
        for k, r in zip(keys, result, strict=False):
            rows = r.get("rows") if isinstance(r, dict) else None
            elems = decode_list(rows)
            if elems is None:
                return None
            seen[k] = elems if rows else None
        return seen

    def txn(self, mops: Mops, pre: dict[int, list[Any] | None]) -> tuple[list[dict], list]:
        """The OVSDB operations of a transaction, and for each micro-op the index of the
        operation whose result answers it."""
        ops: list[dict[str, Any]] = []
        answers: list[int] = []
        length: dict[int, int] = {}  # key -> its length once this txn's appends so far land
        for f, k, v in mops:
            if f == READ:
                answers.append(len(ops))
                ops.append({"op": "select", "table": table(k), "where": where(k),
                            "columns": ["elems"]})
                continue
            if k not in length:
                before = pre.get(k)
                ops.append({"op": "wait", "table": table(k), "where": where(k),
                            "columns": ["elems"], "until": "==", "timeout": 0,
                            "rows": [] if before is None else [{"elems": encode_map(before)}]})
                if before is None:
                    answers.append(len(ops))
                    ops.append({"op": "insert", "table": table(k),
                                "row": {"key": str(k), "elems": encode_map([v]), "ticks": 0}})
                    length[k] = 1
                    continue
                length[k] = len(before)
            answers.append(len(ops))
            ops.append({"op": "mutate", "table": table(k), "where": where(k),
                        "mutations": [["elems", "insert", ["map", [[length[k], v]]]]]})
            length[k] += 1
        if self.sync_reads and not length:
            for k in dict.fromkeys(k for _, k, _ in mops):
                ops.append({"op": "mutate", "table": table(k), "where": where(k),
                            "mutations": [["ticks", "+=", 1]]})
        return ops, answers

    def interpret(self, mops: Mops, answers: list[int], result: Any) -> Outcome:
        if not isinstance(result, list) or len(result) < len(answers):
            return Outcome("info", error=f"malformed reply {result!r:.200}")
        err = first_error(result)
        if err is not None:
            return Outcome("fail" if err in DEFINITE_ERRORS else "info", error=err)
        done: Mops = []
        for (f, k, v), i in zip(mops, answers, strict=True):
            r = result[i] if isinstance(result[i], dict) else {}
            if f == READ:
                elems = decode_list(r.get("rows"))
                if elems is None:
                    return Outcome("info", error=f"unreadable read of key {k}: {r!r:.200}")
                done.append([f, k, elems])
            elif "uuid" in r or r.get("count") == 1:
                done.append([f, k, v])
            else:
                return Outcome("info", error=f"append to key {k} touched {r!r:.100}")
        return Outcome("ok", done)

    @staticmethod
    def invoke_value(mops: Mops) -> Mops:
        return [[f, k, None if f == READ else v] for f, k, v in mops]

