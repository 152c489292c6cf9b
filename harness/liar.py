"""Lies a correct server never tells, told on its behalf (sans-I/O).

The checkers must be seen to fail: ``Liar`` corrupts a correct server's JSON-RPC
traffic in the ways real bugs would, so a campaign can show that each property catches
its kind of bug.  It only decides: ``on_message(conn, direction, msg, now)`` returns the
``(direction, msg)`` list to send instead, ``flush(conn, now, hold_s)`` releases an
update held too long, ``close(conn)`` what a closing connection still owes.  Every
random choice comes from its seed.  The socket shell that feeds it is
``harness.proxy.FaultProxy``.

``arm(kind, count=1, skip=0, every=5, **params)`` arms a lie that is told ``count``
times, first after ``skip`` eligible messages went by untouched, then on every
``every``-th eligible message (lies told back to back can hide each other: a burst of
fake acks is over before any read could see it, and the next real write covers it
up).  ``told`` lists what was done.
"Monitor update" below means an ``update``/``update2``/``update3`` notification that
touches ``table`` (param, default ``"Item"``) and, with param ``op`` (``"insert"``,
``"modify"``, ``"delete"``), has a row change of that kind.

``drop_update``       a monitor update is never delivered.
``reorder_updates``   a monitor update is held back and delivered after the next one
                      (flushed after ``hold_s`` seconds, default 2, if none follows).
``duplicate_update``  a monitor update is delivered twice.
``add_row``           a monitor update gains an inserted row ``row`` (param) that the
                      server never had, e.g. one outside the client's condition.
``stale_read``        a reply to a read-only ``transact`` (all ops ``select``) is
                      replaced by an earlier, different reply to the same request.
``fake_ack``          a ``transact`` that writes (insert/update/mutate/delete, and no
                      select) is not forwarded; the liar answers it itself with
                      success.
``split_txn``         a ``transact`` with two or more writes is applied in two halves:
                      the first half (up to the middle write, with the ``wait`` just
                      before it) at once, the rest as a second transaction ``hold_s``
                      (param, default 0.5) after the first half's reply; the client gets
                      both halves' results as one reply.  Others may see the first half
                      alone, and if the rest fails the first half stays applied.
``reorder_commits``   a ``transact`` that writes (and does not select) is acknowledged
                      at once with success and held; it is sent to the server only once
                      a transaction sent after that acknowledgement, that reads one of
                      its rows and writes none of them, was answered (or ``hold_s``
                      seconds, default 2, went by): that transaction began after the
                      write was acknowledged, committed before it, and read its rows
                      without it.  (A write to its rows would break its ``wait`` guards:
                      the held write would then just be lost, which no reader can
                      tell.)  Its real reply is swallowed.

Directions are ``"c2s"`` (client to server) and ``"s2c"``.
"""

from __future__ import annotations

import random
import time
import uuid as uuid_mod
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["LIES", "Liar", "Out", "describe"]

LIES = ("drop_update", "reorder_updates", "duplicate_update", "add_row", "stale_read",
        "fake_ack", "split_txn", "reorder_commits")
UPDATE_METHODS = ("update", "update2", "update3")
WRITE_OPS = frozenset({"insert", "update", "mutate", "delete"})
Out = list[tuple[str, Any]]


@dataclass
class _Armed:
    kind: str
    count: int
    skip: int
    params: dict[str, Any]
    every: int = 5


@dataclass
class _ConnState:
    # request id -> (method, params) of client requests still waiting for a reply
    requests: dict[Any, tuple[str, Any]] = field(default_factory=dict)
    held: Any = None  # an update held back by reorder_updates
    held_at: float = 0.0
    # split_txn: request id -> {"db", "rest", "hold", "first" (the first half's
    # results, once answered), "due", "sent"}; and the second halves' ids -> request id
    split: dict[Any, dict[str, Any]] = field(default_factory=dict)
    second: dict[str, Any] = field(default_factory=dict)
    late: set[str] = field(default_factory=set)  # reorder_commits: replies to swallow
    seq: dict[Any, int] = field(default_factory=dict)  # request id -> Liar.sent then


@dataclass
class _Deferred:
    """A write reorder_commits acknowledged and holds back."""

    conn: int
    msg: dict[str, Any]
    at: float
    hold: float
    seq: int  # requests sent before it was acknowledged
    rows: frozenset[tuple[str, bytes]]  # the rows it writes
    ready: bool = False  # a later transaction read its rows without it


class Liar:
    """Decides what to do with each JSON-RPC message; pure apart from its own state."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.armed: list[_Armed] = []
        self.told: list[dict[str, Any]] = []
        self.conns: dict[int, _ConnState] = {}
        # orjson(transact params) -> recent distinct results, newest last
        self.reads: dict[bytes, list[Any]] = {}
        self.deferred: list[_Deferred] = []
        self.sent = 0  # transact requests passed on so far, for reorder_commits

    def arm(self, kind: str, count: int = 1, skip: int = 0, every: int = 5,
            **params: Any) -> None:
        if kind not in LIES:
            raise ValueError(f"unknown lie {kind!r}; known: {', '.join(LIES)}")
        self.armed.append(_Armed(kind, count, skip, params, max(1, every)))

    def disarm(self) -> None:
        self.armed.clear()

    def _take(self, kind: str, eligible: bool = True) -> _Armed | None:
        """The armed lie of this kind if it fires on this (eligible) message."""
        if not eligible:
            return None
        for a in self.armed:
            if a.kind == kind and a.count > 0:
                if a.skip > 0:
                    a.skip -= 1
                    return None
                a.count -= 1
                a.skip = a.every - 1  # spread repeated lies out
                return a
        return None

    def _armed(self, kind: str) -> _Armed | None:
        return next((a for a in self.armed if a.kind == kind and a.count > 0), None)

    def _log(self, kind: str, conn: int, **what: Any) -> None:
        self.told.append({"lie": kind, "conn": conn, "time_ns": time.monotonic_ns(), **what})

    def close(self, conn: int) -> Out:
        st = self.conns.pop(conn, None)
        self.deferred = [d for d in self.deferred if d.conn != conn]
        return [("s2c", st.held)] if st and st.held is not None else []

    def flush(self, conn: int, now: float, hold_s: float | None = None) -> Out:
        """Release a held update whose partner never came, a split transaction's second
        half once due, and a deferred write once another write was answered."""
        st = self.conns.get(conn)
        if st is None:
            return []
        out: Out = []
        if st.held is not None and now - st.held_at >= (hold_s if hold_s is not None
                                                        else 2.0):
            out.append(("s2c", st.held))
            st.held = None
        for rid, sp in st.split.items():
            if sp["first"] is not None and not sp["sent"] and now >= sp["due"]:
                sp["sent"] = True
                second = f"crucible-split-{rid}"
                st.second[second] = rid
                out.append(("c2s", {"id": second, "method": "transact",
                                    "params": [sp["db"], *sp["rest"]]}))
        for d in [d for d in self.deferred if d.conn == conn]:
            if d.ready or now - d.at >= d.hold:
                self.deferred.remove(d)
                st.late.add(d.msg["id"])
                out.append(("c2s", d.msg))
        return out

    def on_message(self, conn: int, direction: str, msg: Any, now: float = 0.0) -> Out:
        st = self.conns.setdefault(conn, _ConnState())
        if not isinstance(msg, dict):
            return [(direction, msg)]
        if direction == "c2s":
            return self._client_message(conn, st, msg, now)
        return self._server_message(conn, st, msg, now)

    # client -> server
    def _client_message(self, conn: int, st: _ConnState, msg: dict[str, Any],
                        now: float) -> Out:
        method, rid = msg.get("method"), msg.get("id")
        if method is None or rid is None:
            return [("c2s", msg)]
        params = msg.get("params") or []
        if method == "transact":
            ops = [op for op in params[1:] if isinstance(op, dict)]
            # A write: it changes something and reads nothing (a faked read result
            # would only make the read indeterminate, which proves nothing).
            writes = (any(op.get("op") in WRITE_OPS for op in ops)
                      and not any(op.get("op") == "select" for op in ops))
            a = self._take("fake_ack", writes and self._on_table(ops))
            if a is not None:
                result = [self._fake_result(op) for op in ops]
                self._log("fake_ack", conn, id=rid, ops=ops, result=result)
                return [("s2c", {"id": rid, "result": result, "error": None})]
            a = self._take("reorder_commits", writes)
            if a is not None:
                result = [self._fake_result(op) for op in ops]
                late = {**msg, "id": f"crucible-late-{rid}"}
                self.deferred.append(_Deferred(conn, late, now, a.params.get("hold_s", 2.0),
                                               self.sent, _rows(ops)))
                self._log("reorder_commits", conn, id=rid, ops=ops)
                return [("s2c", {"id": rid, "result": result, "error": None})]
            cut = _split_point(ops)
            a = self._take("split_txn", cut is not None)
            if a is not None:
                assert cut is not None
                st.split[rid] = {"db": params[0], "rest": ops[cut:], "first": None,
                                 "hold": a.params.get("hold_s", 0.5), "due": 0.0,
                                 "sent": False}
                self._log("split_txn", conn, id=rid, first=ops[:cut], rest=ops[cut:])
                return [("c2s", {**msg, "params": [params[0], *ops[:cut]]})]
        st.requests[rid] = (method, params)
        if method == "transact":
            self.sent += 1
            st.seq[rid] = self.sent
        return [("c2s", msg)]

    def _on_table(self, ops: list[dict[str, Any]]) -> bool:
        a = self._armed("fake_ack")
        table = a.params.get("table") if a else None
        return table is None or any(op.get("table") == table for op in ops)

    def _fake_result(self, op: dict[str, Any]) -> dict[str, Any]:
        kind = op.get("op")
        if kind == "insert":
            return {"uuid": ["uuid", str(uuid_mod.UUID(int=self.rng.getrandbits(128),
                                                       version=4))]}
        if kind in ("update", "mutate", "delete"):
            return {"count": 1}
        if kind == "select":
            return {"rows": []}
        return {}

    # server -> client
    def _server_message(self, conn: int, st: _ConnState, msg: dict[str, Any],
                        now: float) -> Out:
        method = msg.get("method")
        if method in UPDATE_METHODS and msg.get("id") is None:
            return self._update(conn, st, msg, now)
        if method is None and "id" in msg:
            rid = msg["id"]
            if rid in st.split or rid in st.second or rid in st.late:
                return self._split_or_late_reply(st, rid, msg, now)
            req = st.requests.pop(rid, None)
            seq = st.seq.pop(rid, 0)
            if req and req[0] == "transact" and self.deferred:
                ops = [op for op in req[1][1:] if isinstance(op, dict)]
                wrote, read = _rows(ops), _rows(ops, ("select",))
                for d in self.deferred:
                    d.ready |= seq > d.seq and not wrote & d.rows and bool(read & d.rows)
            if req and req[0] == "transact" and msg.get("error") is None:
                return [("s2c", self._transact_reply(conn, req[1], msg))]
        return [("s2c", msg)]

    def _split_or_late_reply(self, st: _ConnState, rid: Any, msg: dict[str, Any],
                             now: float) -> Out:
        if rid in st.late:  # the client was answered long ago
            st.late.discard(rid)
            return []
        if rid in st.split:  # the first half: hold its results until the rest is done
            sp = st.split[rid]
            result = msg.get("result")
            if msg.get("error") is not None or not isinstance(result, list) or any(
                    isinstance(r, dict) and "error" in r for r in result):
                del st.split[rid]  # it failed: nothing applied, the client sees why
                return [("s2c", msg)]
            sp["first"], sp["due"] = result, now + sp["hold"]
            return []
        orig = st.second.pop(rid)
        sp = st.split.pop(orig)
        rest = msg.get("result")
        if not isinstance(rest, list):
            rest = [{"error": str(msg.get("error"))}]
        return [("s2c", {"id": orig, "result": sp["first"] + rest, "error": None})]

    def _touches(self, msg: dict[str, Any], kind: str) -> bool:
        a = self._armed(kind)
        if a is None:
            return False
        table = a.params.get("table", "Item")
        updates = _table_updates(msg)
        rows = updates.get(table) if isinstance(updates, dict) else None
        if not rows:
            return False
        op = a.params.get("op")  # e.g. "insert": only updates that insert a row
        return op is None or any(isinstance(c, dict) and op in c for c in rows.values())

    def _update(self, conn: int, st: _ConnState, msg: dict[str, Any], now: float) -> Out:
        if st.held is not None:
            # The partner of a held update: deliver it first, then the held one.
            held, st.held = st.held, None
            self._log("reorder_updates", conn, first=msg, second=held)
            return [("s2c", msg), ("s2c", held)]
        if self._take("drop_update", self._touches(msg, "drop_update")):
            self._log("drop_update", conn, update=msg)
            return []
        if self._take("reorder_updates", self._touches(msg, "reorder_updates")):
            st.held, st.held_at = msg, now
            return []
        if self._take("duplicate_update", self._touches(msg, "duplicate_update")):
            self._log("duplicate_update", conn, update=msg)
            return [("s2c", msg), ("s2c", orjson.loads(orjson.dumps(msg)))]
        a = self._take("add_row", self._touches(msg, "add_row"))
        if a is not None:
            table = a.params.get("table", "Item")
            row = a.params.get("row", {"name": "phantom", "value": -1, "tag": "phantom"})
            uid = str(uuid_mod.UUID(int=self.rng.getrandbits(128), version=4))
            op = "new" if msg["method"] == "update" else "insert"
            _table_updates(msg).setdefault(table, {})[uid] = {op: row}
            self._log("add_row", conn, table=table, uuid=uid, row=row)
        return [("s2c", msg)]

    def _transact_reply(self, conn: int, params: Any, msg: dict[str, Any]) -> dict[str, Any]:
        ops = [op for op in params[1:] if isinstance(op, dict)]
        if not ops or any(op.get("op") != "select" for op in ops):
            return msg
        key = orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
        result = msg.get("result")
        seen = self.reads.setdefault(key, [])
        stale = next((r for r in reversed(seen) if r != result), None)
        if stale is not None and self._take("stale_read"):
            self._log("stale_read", conn, params=params, fresh=result, served=stale)
            return {**msg, "result": stale}
        if not seen or seen[-1] != result:
            seen.append(result)
            del seen[:-8]
        return msg


_WORDS = {
    "fake_ack": "acknowledged a write it never forwarded",
    "stale_read": "served an earlier reply to a read",
    "drop_update": "dropped a monitor update",
    "reorder_updates": "delivered two monitor updates swapped",
    "duplicate_update": "delivered a monitor update twice",
    "add_row": "added a row the server never had to a monitor update",
    "split_txn": "applied a transaction in two halves",
    "reorder_commits": "acknowledged a write at once and committed it after a later one",
}


def describe(told: dict[str, Any], limit: int = 80) -> str:
    """A lie from ``Liar.told`` in plain words, for a report: what the client was told
    instead of the truth."""
    kind = told.get("lie", "?")
    words = _WORDS.get(kind, str(kind))
    if kind == "fake_ack":
        ops = [str(op.get("op")) for op in told.get("ops") or [] if isinstance(op, dict)]
        detail = f"request {told.get('id')}: {', '.join(ops)}"
    elif kind == "stale_read":
        detail = f"fresh {_short(told.get('fresh'))}, served {_short(told.get('served'))}"
    elif kind == "add_row":
        detail = f"row {told.get('uuid')} = {_short(told.get('row'))}"
    elif kind == "split_txn":
        detail = (f"request {told.get('id')}: {len(told.get('first') or [])} ops, then "
                  f"{len(told.get('rest') or [])}")
    elif kind == "reorder_commits":
        ops = [str(op.get("op")) for op in told.get("ops") or [] if isinstance(op, dict)]
        detail = f"request {told.get('id')}: {', '.join(ops)}"
    else:
        detail = ""
    text = f"{words} ({detail})" if detail else words
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _short(value: Any, limit: int = 30) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _rows(ops: list[dict[str, Any]], kinds: Any = (*WRITE_OPS, "wait"),
          ) -> frozenset[tuple[str, bytes]]:
    """The rows the ``kinds`` of ops of a transaction touch (by default what it writes
    or guards), each named by its table and its ``where`` (an inserted row by its
    ``key`` column, as the workloads find rows)."""
    out = set()
    for op in ops:
        if op.get("op") not in kinds:
            continue
        where = op.get("where")
        if where is None and isinstance(op.get("row"), dict) and "key" in op["row"]:
            where = [["key", "==", op["row"]["key"]]]
        out.add((str(op.get("table")), orjson.dumps(where)))
    return frozenset(out)


def _split_point(ops: list[dict[str, Any]]) -> int | None:
    """Where split_txn cuts a transaction: at its middle write (with the ``wait`` just
    before it, a guard that belongs to that write), if it has two writes or more."""
    writes = [i for i, op in enumerate(ops) if op.get("op") in WRITE_OPS]
    if len(writes) < 2:
        return None
    cut = writes[len(writes) // 2]
    if cut > writes[0] + 1 and ops[cut - 1].get("op") == "wait":
        cut -= 1
    return cut


def _table_updates(msg: dict[str, Any]) -> Any:
    params = msg.get("params") or []
    if msg.get("method") == "update3":
        return params[2] if len(params) > 2 else None
    return params[1] if len(params) > 1 else None
