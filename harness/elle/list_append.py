"""What list-append transactions reveal: each key's version order, the anomalies one
key shows on its own, and the dependency graph.

Every append is unique per key, and a read returns the whole list, so a read tells the
order of every element before the last one it saw.  The longest read of a key is its
version order, and every other read must be a prefix of it.  From there (Elle, Kingsbury
and Alvaro, VLDB 2020, section 4):

- ww: the writer of each element precedes the writer of the next;
- wr: the writer of a read's last element precedes the reader;
- rw: a reader precedes the writer of the element that follows what it read;
- and per key, without any graph: a read of an element that a failed transaction
  appended (G1a), a read that ends in the middle of another transaction's appends
  (G1b), an element twice (duplicate-elements), an element nobody appended
  (phantom-element), two reads neither of which is a prefix of the other
  (incompatible-order), a transaction that does not see its own appends (internal),
  and two committed transactions that read the same version of a key and both appended
  to it (lost-update).

Only a transaction's external reads (of a key before it appended to it) give wr and rw
edges: what it reads after its own append is its own state.  Nodes are the committed
(``ok``) transactions and the indeterminate (``info``) ones whose appends someone read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.elle.anomaly import Anomaly
from harness.elle.graph import PROCESS, REALTIME, RW, WR, WW, Graph
from harness.elle.txns import APPEND, READ, Txn


@dataclass
class Analysis:
    txns: list[Txn]
    graph: Graph
    order: dict[Any, list[Any]]  # key -> version order (its longest read)
    writer: dict[tuple[Any, Any], int]  # (key, element) -> id of the appending txn
    position: dict[tuple[Any, Any], int]  # (key, element) -> index in order[key]
    # txn id -> key -> what it read of the key before appending to it
    ext_reads: dict[int, dict[Any, list[Any]]]
    anomalies: list[Anomaly] = field(default_factory=list)
    nodes: set[int] = field(default_factory=set)


def analyse(txns: list[Txn]) -> Analysis:
    writer: dict[tuple[Any, Any], int] = {}
    anomalies: list[Anomaly] = []
    for t in txns:
        for k, elems in t.appends.items():
            for e in elems:
                other = writer.setdefault((k, e), t.id)
                if other != t.id:
                    anomalies.append(Anomaly(
                        "duplicate-appends", [other, t.id],
                        f"T{other} and T{t.id} both appended {e} to key {k}: elements must "
                        "be unique per key, so this key's order cannot be inferred",
                        key=k))
    ok = [t for t in txns if t.status == "ok"]
    reads: dict[Any, list[tuple[int, list[Any]]]] = {}  # key -> (txn, list) of ok reads
    ext_reads: dict[int, dict[Any, list[Any]]] = {}
    for t in ok:
        _internal(t, anomalies)
        appended: set[Any] = set()
        for f, k, v in t.mops:
            if f == APPEND:
                appended.add(k)
            elif v is not None:
                reads.setdefault(k, []).append((t.id, v))
                if k not in appended:
                    ext_reads.setdefault(t.id, {}).setdefault(k, v)
    order: dict[Any, list[Any]] = {}
    position: dict[tuple[Any, Any], int] = {}
    bad_keys: set[Any] = set()
    for k, rs in reads.items():
        longest_t, longest = max(rs, key=lambda r: len(r[1]))
        order[k] = longest
        for i, e in enumerate(longest):
            position.setdefault((k, e), i)
        for tid, v in rs:
            if len(set(v)) != len(v):
                dup = next(e for i, e in enumerate(v) if e in v[:i])
                anomalies.append(Anomaly(
                    "duplicate-elements", [tid],
                    f"T{tid} read key {k} = {_short(v)}, which holds {dup} twice", key=k))
                bad_keys.add(k)
            elif v != longest[:len(v)]:
                anomalies.append(Anomaly(
                    "incompatible-order", [tid, longest_t],
                    f"T{tid} read key {k} = {_short(v)} and T{longest_t} read "
                    f"{_short(longest)}: neither is a prefix of the other, so the key has "
                    "no single order of versions", key=k))
                bad_keys.add(k)
    by_id = {t.id: t for t in txns}
    _element_anomalies(ok, by_id, writer, anomalies)
    _lost_updates(ok, ext_reads, anomalies)
    nodes = {t.id for t in ok}
    nodes |= {writer[(k, e)] for k, vs in order.items() for e in vs
              if (k, e) in writer and by_id[writer[(k, e)]].status == "info"}
    g = Graph(len(txns))
    _data_edges(g, order, writer, ext_reads, nodes, bad_keys)
    _process_edges(g, txns, nodes)
    _realtime_edges(g, txns, nodes)
    return Analysis(txns, g, order, writer, position, ext_reads, anomalies, nodes)


def _short(v: list[Any], limit: int = 12) -> str:
    if len(v) <= limit:
        return "[" + " ".join(map(str, v)) + "]"
    return "[... " + " ".join(map(str, v[-limit:])) + "]"


def _internal(t: Txn, anomalies: list[Anomaly]) -> None:
    """A transaction's reads must show its own earlier appends (and an earlier read
    plus those appends, when it read the key before)."""
    known: dict[Any, list[Any]] = {}  # key -> what it must read now, once it read it
    mine: dict[Any, list[Any]] = {}  # key -> its appends since it last read the key
    for f, k, v in t.mops:
        if f == APPEND:
            mine.setdefault(k, []).append(v)
            if k in known:
                known[k] = [*known[k], v]
            continue
        if v is None:
            continue
        expected = known.get(k)
        own = mine.get(k, [])
        wrong = (v != expected) if expected is not None else (own and v[-len(own):] != own)
        if wrong:
            want = _short(expected) if expected is not None else f"a list ending {_short(own)}"
            anomalies.append(Anomaly(
                "internal", [t.id],
                f"T{t.id} read key {k} = {_short(v)} but its own earlier operations say "
                f"it must read {want}", key=k))
        known[k] = list(v)
        mine[k] = []


def _element_anomalies(ok: list[Txn], by_id: dict[int, Txn],
                       writer: dict[tuple[Any, Any], int], anomalies: list[Anomaly]) -> None:
    for t in ok:
        keys_read: set[Any] = set()
        for f, k, v in t.mops:
            if f != READ or not v or k in keys_read:
                continue  # a second read of a key repeats what the first one said
            keys_read.add(k)
            for e in v:
                w = writer.get((k, e))
                if w is None:
                    anomalies.append(Anomaly(
                        "phantom-element", [t.id],
                        f"T{t.id} read key {k} = {_short(v)}, but no transaction ever "
                        f"appended {e} to it", key=k))
                elif by_id[w].status == "fail" and w != t.id:
                    anomalies.append(Anomaly(
                        "G1a", [w, t.id],
                        f"T{t.id} read key {k} = {_short(v)}, which holds {e}: T{w} appended "
                        f"it, and T{w} failed (aborted read)", key=k))
            last = v[-1]
            w = writer.get((k, last))
            if w is not None and w != t.id:
                mine = by_id[w].appends.get(k, [])
                if mine and mine[-1] != last:
                    anomalies.append(Anomaly(
                        "G1b", [w, t.id],
                        f"T{t.id} read key {k} = {_short(v)}, which ends in {last}: T{w} "
                        f"appended {last} and then {mine[mine.index(last) + 1]} to the same "
                        f"key, so T{t.id} saw the middle of T{w} (intermediate read)", key=k))


def _lost_updates(ok: list[Txn], ext_reads: dict[int, dict[Any, list[Any]]],
                  anomalies: list[Anomaly]) -> None:
    """Committed transactions that read the same version of a key, then appended to it."""
    groups: dict[tuple[Any, Any], list[int]] = {}
    for t in ok:
        for k, v in ext_reads.get(t.id, {}).items():
            if k in t.appends:
                groups.setdefault((k, tuple(v)), []).append(t.id)
    for (k, v), ids in groups.items():
        if len(ids) > 1:
            names = ", ".join(f"T{i}" for i in ids)
            anomalies.append(Anomaly(
                "lost-update", ids,
                f"{names} all read key {k} = {_short(list(v))} and then appended to it: "
                "each wrote over a version the others had already moved past", key=k))


def _data_edges(g: Graph, order: dict[Any, list[Any]], writer: dict[tuple[Any, Any], int],
                ext_reads: dict[int, dict[Any, list[Any]]], nodes: set[int],
                bad_keys: set[Any]) -> None:
    for k, vs in order.items():
        if k in bad_keys:
            continue
        prev = None
        for e in vs:
            w = writer.get((k, e))
            if prev is not None and w is not None and prev in nodes and w in nodes:
                g.link(prev, w, WW)
            prev = w
    for tid, per_key in ext_reads.items():
        for k, v in per_key.items():
            if k in bad_keys:
                continue
            vs = order.get(k, [])
            if v:
                w = writer.get((k, v[-1]))
                if w is not None and w in nodes:
                    g.link(w, tid, WR)
            if len(vs) > len(v):
                w = writer.get((k, vs[len(v)]))
                if w is not None and w in nodes:
                    g.link(tid, w, RW)


def _process_edges(g: Graph, txns: list[Txn], nodes: set[int]) -> None:
    last: dict[Any, int] = {}
    for t in sorted((t for t in txns if t.id in nodes), key=lambda t: t.call_index):
        p = last.get(t.process)
        if p is not None:
            g.link(p, t.id, PROCESS)
        last[t.process] = t.id


def _realtime_edges(g: Graph, txns: list[Txn], nodes: set[int]) -> None:
    """a -> b when a completed before b was invoked, transitively reduced: each
    transaction links from the completed ones no later completion has covered."""
    events = []
    for t in txns:
        if t.id not in nodes:
            continue
        events.append((t.call_index, 0, t.id))
        if t.status == "ok" and t.return_index is not None:
            events.append((t.return_index, 1, t.id))
    events.sort()
    frontier: set[int] = set()
    before: dict[int, frozenset[int]] = {}
    for _, kind, tid in events:
        if kind == 0:
            for a in frontier:
                g.link(a, tid, REALTIME)
            before[tid] = frozenset(frontier)
        else:
            frontier -= before.pop(tid, frozenset())
            frontier.add(tid)
