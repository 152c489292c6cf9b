"""Hand-built list-append histories, one per anomaly class, for the Elle checker's
tests (and a valid one).  ``H`` records invokes and completions in the order called,
so overlapping transactions are written as they would interleave."""

from __future__ import annotations

from typing import Any

from harness.history import Op


class H:
    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.pending: dict[int, list[Any]] = {}

    def invoke(self, p: int, *mops: list[Any]) -> H:
        value = [[f, k, None if f == "r" else v] for f, k, v in mops]
        self.pending[p] = [list(m) for m in mops]
        self.ops.append(Op(len(self.ops), len(self.ops), p, "invoke", "txn", value))
        return self

    def done(self, p: int, typ: str = "ok") -> H:
        mops = self.pending.pop(p)
        self.ops.append(Op(len(self.ops), len(self.ops), p, typ, "txn", mops))
        return self

    def txn(self, p: int, *mops: list[Any], typ: str = "ok") -> H:
        return self.invoke(p, *mops).done(p, typ)


def a(k: Any, v: Any) -> list[Any]:
    return ["append", k, v]


def r(k: Any, v: list[Any]) -> list[Any]:
    return ["r", k, v]


def valid() -> list[Op]:
    h = H().txn(0, a("x", 1), r("y", []))
    h.invoke(1, r("x", [1]), a("y", 1)).invoke(2, a("x", 2))
    h.done(1).done(2)
    h.txn(0, r("x", [1, 2]), r("y", [1]))
    h.invoke(3, a("z", 1)).done(3, "info")  # may or may not have happened
    h.invoke(4, a("z", 2)).done(4, "fail")  # certainly did not
    h.txn(5, r("z", [1]))
    return h.ops


def concurrent(*txns: tuple[int, list[list[Any]]], reads: list[list[Any]] = ()) -> H:
    """The transactions all overlap in time (no real-time order among them); then one
    more reads ``reads``."""
    h = H()
    for p, mops in txns:
        h.invoke(p, *mops)
    for p, _ in txns:
        h.done(p)
    if reads:
        h.txn(99, *reads)
    return h


CASES: dict[str, list[Op]] = {
    # x ordered T0 then T1, y ordered T1 then T0: each wrote over the other.
    "G0": concurrent((0, [a("x", 1), a("y", 1)]), (1, [a("x", 2), a("y", 2)]),
                     reads=[r("x", [1, 2]), r("y", [2, 1])]).ops,
    "G1a": H().txn(0, a("x", 1), typ="fail").txn(1, r("x", [1])).ops,
    "G1b": H().txn(0, a("x", 1), a("x", 2)).txn(1, r("x", [1])).ops,
    # Each read the other's append: information went round in a circle.
    "G1c": concurrent((0, [a("x", 1), r("y", [1])]), (1, [a("y", 1), r("x", [1])])).ops,
    # T1 saw T0's y but not T0's x: half of T0 (read skew).
    "G-single": concurrent((0, [a("x", 1), a("y", 1)]), (1, [r("x", []), r("y", [1])]),
                           reads=[r("x", [1])]).ops,
    # Each read the key the other appended to before it did (write skew).
    "G2-item": concurrent((0, [r("x", []), a("y", 1)]), (1, [r("y", []), a("x", 1)]),
                          reads=[r("x", [1]), r("y", [1])]).ops,
    "lost-update": concurrent((0, [r("x", []), a("x", 1)]), (1, [r("x", []), a("x", 2)]),
                              reads=[r("x", [1, 2])]).ops,
    "duplicate-elements": H().txn(0, a("x", 1)).txn(1, r("x", [1, 1])).ops,
    "phantom-element": H().txn(0, a("x", 1)).txn(1, r("x", [1, 9])).ops,
    "incompatible-order": concurrent((0, [a("x", 1)]), (1, [a("x", 2)]),
                                     reads=[r("x", [1, 2])]).txn(98, r("x", [2])).ops,
    "internal": H().txn(0, a("x", 1), r("x", [])).txn(1, r("x", [1])).ops,
    # A read invoked after T0 was acknowledged missed T0's append: a stale read.
    "G-single-realtime": H().txn(0, a("x", 1)).txn(1, r("x", [])).txn(2, r("x", [1])).ops,
    # The same, by the process that appended: it did not read its own write.
    "G-single-process": H().txn(0, a("x", 1)).txn(0, r("x", [])).txn(2, r("x", [1])).ops,
    # T1 began after T0 was acknowledged, yet the key's order puts T1's append first.
    "G0-realtime": H().txn(0, a("x", 1)).txn(1, a("x", 2)).txn(2, r("x", [2, 1])).ops,
    # T1 began after T0 was acknowledged, yet T0 read T1's append.
    "G1c-realtime": H().txn(0, a("x", 1), r("y", [1])).txn(1, a("y", 1))
    .txn(2, r("x", [1])).ops,
}
