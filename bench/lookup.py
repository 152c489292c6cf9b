"""Lookups by name: ours against ovsdb-server 3.1, same machine, same run (issue #18).

    python -m bench lookup            (or: python -m bench.lookup [--quick] [--txns N])

Logical_Switch (OVN_Northbound, where ``name`` has no schema index) is loaded with 10,
1,000 and 100,000 rows; then each operation below runs as one transaction at a time,
each naming a row by ``where [["name", "==", X]]``, no monitors:

- update:  set other_config to a value never written before;
- select:  read name and other_config;
- mutate:  replace other_config's key k (a delete and an insert mutation);
- delete:  delete the row and insert it again (so the table keeps its size).

Measured: server CPU per transaction (every thread's schedstat time from /proc, as
bench/fanout.py does), after a warm-up.  Printed: microseconds for each server and
ours/OVS.  Target (issue 18): ours <= 2x ovsdb-server at every size, and flat from 10
to 100,000 rows.  ovsdb-server scans the table in C; ours answers from a value index
(reference/data/value_index.py) built on the first lookup.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.server import Pipe, _check
from harness.targets.server import OVN_NB, start_server

KINDS = ("ovsdb-server", "reference")
OPS = ("update", "select", "mutate", "delete")
DB = "OVN_Northbound"
TABLE = "Logical_Switch"


class Session:
    """One connection issuing one transaction at a time."""

    def __init__(self, remote: str) -> None:
        self.pipe = Pipe(remote)
        self.next_id = 0

    def transact(self, *ops: dict) -> list:
        self.next_id += 1
        self.pipe.send({"method": "transact", "params": [DB, *ops], "id": self.next_id})
        reply = self.pipe.reply()
        _check(reply)
        return reply["result"]

    def close(self) -> None:
        self.pipe.close()


def _name(i: int) -> str:
    return f"ls{i}"


def _row(i: int) -> dict:
    return {"name": _name(i), "external_ids": ["map", [["owner", f"o{i}"]]],
            "other_config": ["map", [["k", "0"]]]}


def load(s: Session, n: int, batch: int = 1000) -> None:
    for start in range(0, n, batch):
        s.transact(*({"op": "insert", "table": TABLE, "row": _row(i)}
                     for i in range(start, min(n, start + batch))))


def _by_name(i: int) -> list:
    return [["name", "==", _name(i)]]


def transaction(op: str, i: int, v: int) -> list[dict]:
    """The ops of transaction number v of kind ``op`` on row i."""
    where = _by_name(i)
    if op == "update":
        return [{"op": "update", "table": TABLE, "where": where,
                 "row": {"other_config": ["map", [["k", str(v)]]]}}]
    if op == "select":
        return [{"op": "select", "table": TABLE, "where": where,
                 "columns": ["name", "other_config"]}]
    if op == "mutate":
        return [{"op": "mutate", "table": TABLE, "where": where,
                 "mutations": [["other_config", "delete", ["set", ["k"]]],
                               ["other_config", "insert", ["map", [["k", str(v)]]]]]}]
    assert op == "delete"
    return [{"op": "delete", "table": TABLE, "where": where},
            {"op": "insert", "table": TABLE, "row": _row(i)}]


def _expect_one(op: str) -> Callable[[list], None]:
    def check(result: list) -> None:
        got = len(result[0]["rows"]) if op == "select" else result[0]["count"]
        if got != 1:
            raise RuntimeError(f"{op} by name matched {got} rows, not 1: {result}")
    return check


def cpu_per_txn(server, s: Session, op: str, n_rows: int, n_txns: int) -> float:
    check = _expect_one(op)
    stride = 7919  # a prime: visits rows all over the table, not one after another
    for v in range(min(50, n_txns)):  # warm-up (ours builds its index on the first)
        check(s.transact(*transaction(op, (v * stride) % n_rows, v)))
    before = server.cpu_seconds()
    for v in range(n_txns):
        check(s.transact(*transaction(op, (v * stride) % n_rows, 1_000_000 + v)))
    return (server.cpu_seconds() - before) / n_txns


def run_kind(kind: str, sizes: list[int], n_txns: int, workdir: Path) -> dict:
    figures: dict[tuple[str, int], float] = {}
    for n in sizes:
        extra = ["--inactivity-probe=0"] if kind == "reference" else []
        server = start_server(kind, workdir / f"{kind}-{n}", [OVN_NB], extra)
        try:
            s = Session(server.remote)
            try:
                load(s, n)
                for op in OPS:
                    figures[(op, n)] = cpu_per_txn(server, s, op, n, n_txns)
            finally:
                s.close()
        finally:
            server.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.lookup", description=__doc__.split("\n")[0])
    ap.add_argument("--txns", type=int, default=1000, help="transactions per measurement")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 1_000, 100_000])
    ap.add_argument("--quick", action="store_true", help="small counts (a smoke run)")
    args = ap.parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.txns, args.sizes = 200, [10, 1_000, 10_000]
    work = Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    try:
        res = {}
        for kind in KINDS:
            print(f"measuring {kind}: {args.txns} transactions of each kind at "
                  f"{', '.join(map(str, args.sizes))} rows ...", flush=True)
            res[kind] = run_kind(kind, args.sizes, args.txns, work)
        ovs, ours = res["ovsdb-server"], res["reference"]
        us = 1e6
        print(f"\nserver CPU per transaction, us; where [[name, ==, X]] on {TABLE}")
        print(f"{'op':<8}{'rows':>8}{'ovsdb-server':>14}{'ours':>10}{'ours/OVS':>10}  "
              "target <= 2x")
        worst = 0.0
        for op in OPS:
            for n in args.sizes:
                ratio = ours[(op, n)] / ovs[(op, n)] if ovs[(op, n)] else float("inf")
                worst = max(worst, ratio)
                print(f"{op:<8}{n:>8}{ovs[(op, n)] * us:>14.1f}{ours[(op, n)] * us:>10.1f}"
                      f"{ratio:>10.2f}  {'met' if ratio <= 2 else 'MISSED'}")
        lo, hi = args.sizes[0], args.sizes[-1]
        print(f"\ngrowth from {lo} to {hi} rows (flat is 1.0):")
        for op in OPS:
            print(f"  {op:<8} ovsdb-server {ovs[(op, hi)] / ovs[(op, lo)]:.2f}   "
                  f"ours {ours[(op, hi)] / ours[(op, lo)]:.2f}")
        print(f"\nworst ours/OVS: {worst:.2f}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
