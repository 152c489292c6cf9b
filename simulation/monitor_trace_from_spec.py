"""Seeded random MonitorDelta traces simulated from the spec's own semantics.

Unlike ``simulation.monitor_trace``, which drives the reference server's monitor core,
this simulator plays server and clients itself, written from the trace contract in
spec/README.md and independent of ``reference``: it lets trace validation
(``harness.spec.trace_validation``) be tested on its own, with valid traces and
corrupted copies that must be rejected.

``random_trace(seed, steps)`` is the trace; ``diff`` and ``apply`` are the update2
semantics of the spec's tiny schema (a row diff, and a replica applying one).
"""

from __future__ import annotations

import random
from typing import Any

Row = dict[str, Any]  # {"n": int, "s": frozenset, "m": frozenset of (k, v)}


def matches(cond: list, row: Row) -> bool:
    if not cond:
        return True
    for cl in cond:
        if cl is True:
            return True
        if cl is False:
            continue
        col, fn, v = cl
        if col == "n":
            n = row["n"]
            ok = {"==": n == v, "!=": n != v, "<": n < v, "<=": n <= v, ">": n > v,
                  ">=": n >= v}[fn]
        else:
            ok = (v in row["s"]) if fn == "includes" else (v not in row["s"])
        if ok:
            return True
    return False


def filt(db: dict[int, Row], cond: list) -> dict[int, Row]:
    return {r: v for r, v in db.items() if matches(cond, v)}


def row_json(v: Row) -> dict:
    return {"n": v["n"], "s": sorted(v["s"]), "m": sorted([list(p) for p in v["m"]])}


def diff(a: dict[int, Row], b: dict[int, Row]) -> list[dict]:
    out = []
    for r in sorted(set(a) | set(b)):
        old, new = a.get(r), b.get(r)
        if old == new:
            continue
        if old is None:
            out.append({"row": r, "op": "insert", **row_json(new)})
        elif new is None:
            out.append({"row": r, "op": "delete"})
        else:
            u: dict = {"row": r, "op": "modify"}
            if old["n"] != new["n"]:
                u["n"] = new["n"]
            if old["s"] != new["s"]:
                u["s"] = sorted(old["s"] ^ new["s"])
            newkeys = {k for k, _ in new["m"]}
            md = (new["m"] - old["m"]) | {p for p in old["m"] if p[0] not in newkeys}
            if md:
                u["m"] = sorted([list(p) for p in md])
            out.append(u)
    return out


def apply(rep: dict[int, Row], ups: list[dict]) -> dict[int, Row]:
    rep = dict(rep)
    for u in ups:
        r = u["row"]
        if u["op"] == "insert":
            rep[r] = {"n": u.get("n", 0), "s": frozenset(u.get("s", [])),
                      "m": frozenset(tuple(p) for p in u.get("m", []))}
        elif u["op"] == "delete":
            rep.pop(r, None)
        elif r in rep:
            old = rep[r]
            md = {tuple(p) for p in u.get("m", [])}
            keys = {k for k, _ in md}
            rep[r] = {"n": u.get("n", old["n"]), "s": old["s"] ^ frozenset(u.get("s", [])),
                      "m": frozenset({p for p in old["m"] if p[0] not in keys} | (md - old["m"]))}
    return rep


CONDS: list[list] = [[], [["n", "==", 0]], [["n", ">=", 1]], [["s", "includes", 1]],
                     [["s", "excludes", 0], ["n", "<", 2]], [False]]


def random_trace(seed: int, steps: int, clients: int = 2, hist: int = 2) -> list[dict]:
    rnd = random.Random(seed)
    db: dict[int, Row] = {}
    hist_dbs: list[dict[int, Row]] = [{}]
    cids = list(range(1, clients + 1))
    ccond = {c: rnd.choice(CONDS) for c in cids}
    scond = dict(ccond)
    rcond = dict(ccond)
    conn = dict.fromkeys(cids, False)
    req: dict[int, list] = {c: [] for c in cids}
    chan: dict[int, list] = {c: [] for c in cids}
    replica: dict[int, dict] = {c: {} for c in cids}
    last = dict.fromkeys(cids, 0)
    events: list[dict] = [{"action": "Init", "clients": cids, "hist": hist,
                           "cond": {str(c): ccond[c] for c in cids}}]
    while len(events) <= steps:
        c = rnd.choice(cids)
        k = rnd.random()
        if k < 0.25:
            r = rnd.randrange(3)
            new = dict(db)
            old = db.get(r)
            if old is None or rnd.random() < 0.1:
                new[r] = None if old is not None else {"n": rnd.randrange(3), "s": frozenset(),
                                                       "m": frozenset()}
            else:
                e = rnd.randrange(3)
                which = rnd.randrange(3)
                if which == 0:
                    new[r] = {**old, "n": e}
                elif which == 1:
                    new[r] = {**old, "s": old["s"] ^ {e}}
                else:
                    m = {p for p in old["m"] if p[0] != e}
                    if rnd.random() < 0.7:
                        m.add((e, rnd.randrange(3)))
                    new[r] = {**old, "m": frozenset(m)}
            new = {x: v for x, v in new.items() if v is not None}
            txn = len(hist_dbs)
            updates = {}
            for cl in cids:
                d = diff(filt(db, scond[cl]), filt(new, scond[cl]))
                if conn[cl] and d:
                    chan[cl].append(("update", txn, scond[cl], d))
                    updates[str(cl)] = d
            events.append({"action": "Commit", "txn": txn,
                           "rows": {str(r): row_json(new[r]) if r in new else None},
                           "updates": updates})
            db = new
            hist_dbs.append(db)
        elif k < 0.35:
            cond = rnd.choice(CONDS)
            ccond[c] = cond
            if conn[c]:
                req[c].append(cond)
            events.append({"action": "RequestCondChange", "client": c, "cond": cond})
        elif k < 0.45 and conn[c] and req[c]:
            cond = req[c].pop(0)
            d = diff(filt(db, scond[c]), filt(db, cond))
            scond[c] = cond
            chan[c].append(("cond", len(hist_dbs) - 1, cond, d))
            events.append({"action": "ServerCondChange", "client": c, "cond": cond, "ups": d})
        elif k < 0.52 and conn[c]:
            conn[c] = False
            chan[c], req[c] = [], []
            events.append({"action": "Disconnect", "client": c})
        elif not conn[c]:
            txn = len(hist_dbs) - 1
            lst = last[c] if rcond[c] == ccond[c] else 0
            found = lst >= 1 and lst >= txn - hist
            base = hist_dbs[lst] if found else {}
            d = diff(filt(base, ccond[c]), filt(db, ccond[c]))
            conn[c], scond[c] = True, ccond[c]
            chan[c] = [("resume" if found else "full", txn, ccond[c], d)]
            events.append({"action": "Resume", "client": c, "cond": ccond[c], "last": lst,
                           "found": found, "txn": txn, "ups": d})
        elif chan[c]:
            kind, txn, cond, d = chan[c].pop(0)
            replica[c] = apply({} if kind == "full" else replica[c], d)
            last[c], rcond[c] = txn, cond
            events.append({"action": "ApplyUpdate2", "client": c, "kind": kind, "txn": txn,
                           "replica": {str(r): row_json(v) for r, v in replica[c].items()}})
    return events
