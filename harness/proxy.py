"""A fault-injecting TCP proxy for OVSDB client links, with a lying mode.

One ``FaultProxy`` listens on 127.0.0.1 and forwards every accepted connection to one
upstream address.  Faults change what it does to the bytes; the lying mode parses the
JSON-RPC stream and corrupts a correct server's traffic, so the checkers can be shown
to catch real kinds of bugs.

API
---
``proxy = FaultProxy("127.0.0.1", upstream_port, lying=False, seed=0)``, or
``FaultProxy.for_remote("tcp:HOST:PORT" | "unix:PATH", ...)`` (the cluster targets
give their members Unix sockets; the proxy still listens on 127.0.0.1).
``await proxy.start()``; ``proxy.port`` (pick 0 = any free port); ``proxy.remote`` is
``"tcp:127.0.0.1:PORT"``; ``await proxy.stop()`` closes the listener and every
connection.  Also ``async with FaultProxy(...) as proxy:``.

Faults (take effect at once, on existing and new connections; each is logged in
``proxy.events`` as ``(time.monotonic_ns(), name, params)`` and passed to the optional
``on_event(name, params)`` callback so a campaign can put it in its history):

``set_delay(ms, direction="both")``   hold every chunk for ``ms`` before passing it on
                                       (order is kept; 0 removes the delay).
``blackhole(direction="both", lose=False)``  nothing gets through: "both" is a cut
                                       link, "c2s" or "s2c" a one-way link.  As with
                                       TCP over a partition, what is sent meanwhile is
                                       held and arrives, in order, after ``heal()`` (if
                                       the connection is still alive).  ``lose=True``
                                       discards it instead; on raw bytes that can cut a
                                       message in half, which tests a peer's framing
                                       rather than a network.  TCP never loses part of
                                       a stream, so there is no random per-packet drop:
                                       a lossy link is a delay.
``reset()``                           close every connection with a TCP RST.
``stop_accepting()`` / ``resume_accepting()``  close / reopen the listening socket on
                                       the same port (new clients get refused).
``heal()``                            remove delay and blackholes (held data flows),
                                       resume accepting.

Directions are ``"c2s"`` (client to server), ``"s2c"`` and ``"both"``.

Lying mode (``lying=True``: every message is parsed and re-serialised).  ``proxy.lie(
kind, count=1, skip=0, every=5, **params)`` arms a lie that is told ``count`` times,
first after ``skip`` eligible messages went by untouched, then on every ``every``-th
eligible message (lies told back to back can hide each other: a burst of fake acks
is over before any read could see it, and the next real write covers it up).
``proxy.lies_told`` lists what was done (each also goes to ``events``/``on_event`` as
``lie_told``).
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
                      select) is not forwarded; the proxy answers it itself with
                      success.

The lie engine, ``Liar``, is sans-I/O: ``on_message(conn, direction, msg)`` returns the
``(direction, msg)`` list to send; the proxy only moves bytes and runs timers.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import time
import uuid as uuid_mod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from harness.client import parse_remote
from harness.framing import Framer, FramingError

__all__ = ["FaultProxy", "Liar", "LIES"]

DIRECTIONS = ("c2s", "s2c")
LIES = ("drop_update", "reorder_updates", "duplicate_update", "add_row", "stale_read",
        "fake_ack")
UPDATE_METHODS = ("update", "update2", "update3")
WRITE_OPS = frozenset({"insert", "update", "mutate", "delete"})
Out = list[tuple[str, Any]]


def _dirs(direction: str) -> tuple[str, ...]:
    if direction == "both":
        return DIRECTIONS
    if direction in DIRECTIONS:
        return (direction,)
    raise ValueError(f"direction must be c2s, s2c or both, not {direction!r}")


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


class Liar:
    """Decides what to do with each JSON-RPC message; pure apart from its own state."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.armed: list[_Armed] = []
        self.told: list[dict[str, Any]] = []
        self.conns: dict[int, _ConnState] = {}
        # orjson(transact params) -> recent distinct results, newest last
        self.reads: dict[bytes, list[Any]] = {}

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
        return [("s2c", st.held)] if st and st.held is not None else []

    def flush(self, conn: int, now: float, hold_s: float | None = None) -> Out:
        """Release a held update whose partner never came."""
        st = self.conns.get(conn)
        if st is None or st.held is None:
            return []
        a_hold = hold_s if hold_s is not None else 2.0
        if now - st.held_at < a_hold:
            return []
        msg, st.held = st.held, None
        return [("s2c", msg)]

    def on_message(self, conn: int, direction: str, msg: Any, now: float = 0.0) -> Out:
        st = self.conns.setdefault(conn, _ConnState())
        if not isinstance(msg, dict):
            return [(direction, msg)]
        if direction == "c2s":
            return self._client_message(conn, st, msg)
        return self._server_message(conn, st, msg, now)

    # client -> server
    def _client_message(self, conn: int, st: _ConnState, msg: dict[str, Any]) -> Out:
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
        st.requests[rid] = (method, params)
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
            req = st.requests.pop(msg["id"], None)
            if req and req[0] == "transact" and msg.get("error") is None:
                return [("s2c", self._transact_reply(conn, req[1], msg))]
        return [("s2c", msg)]

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


def _table_updates(msg: dict[str, Any]) -> Any:
    params = msg.get("params") or []
    if msg.get("method") == "update3":
        return params[2] if len(params) > 2 else None
    return params[1] if len(params) > 1 else None


class _Conn:
    """One proxied connection: two pumps, each feeding an ordered delivery queue."""

    def __init__(self, proxy: FaultProxy, cid: int, c_reader: asyncio.StreamReader,
                 c_writer: asyncio.StreamWriter, u_reader: asyncio.StreamReader,
                 u_writer: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.cid = cid
        self.readers = {"c2s": c_reader, "s2c": u_reader}
        self.writers = {"c2s": u_writer, "s2c": c_writer}
        self.queues: dict[str, asyncio.Queue[tuple[float, bytes | None]]] = {
            d: asyncio.Queue() for d in DIRECTIONS}
        self.framers = {d: Framer() for d in DIRECTIONS}
        self.held: dict[str, list[bytes]] = {d: [] for d in DIRECTIONS}  # blackholed
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for d in DIRECTIONS:
            self.tasks.append(loop.create_task(self._pump(d)))
            self.tasks.append(loop.create_task(self._deliver(d)))

    def emit(self, direction: str, data: bytes) -> None:
        lose = self.proxy._blackholed.get(direction)
        if lose is not None:
            if lose:
                self.proxy.dropped_bytes += len(data)
            else:
                self.proxy.held_bytes += len(data)
                self.held[direction].append(data)
            return
        due = time.monotonic() + self.proxy._delay[direction]
        self.queues[direction].put_nowait((due, data))

    def release(self) -> None:
        """After a heal: what a blackhole held goes on, in order, before anything new."""
        for d in DIRECTIONS:
            held, self.held[d] = self.held[d], []
            for data in held:
                self.emit(d, data)

    def emit_messages(self, outs: Out) -> None:
        for d, m in outs:
            self.emit(d, orjson.dumps(m))

    async def _pump(self, direction: str) -> None:
        reader = self.readers[direction]
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                if self.proxy.liar is None:
                    self.emit(direction, data)
                    continue
                try:
                    msgs = self.framers[direction].feed(data)
                except FramingError:
                    break
                now = time.monotonic()
                liar = self.proxy.liar
                for m in msgs:
                    told = len(liar.told)
                    self.emit_messages(liar.on_message(self.cid, direction, m, now))
                    for t in liar.told[told:]:
                        self.proxy._event("lie_told", lie=t["lie"], conn=t["conn"])
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # End of one direction ends the connection, as a crashed peer would.
            self.queues[direction].put_nowait((0.0, None))

    async def _deliver(self, direction: str) -> None:
        writer = self.writers[direction]
        q = self.queues[direction]
        try:
            while True:
                due, data = await q.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            self.proxy._drop_conn(self)

    def close(self, rst: bool = False) -> None:
        for w in self.writers.values():
            if rst:
                sock = w.get_extra_info("socket")
                if sock is not None:
                    try:  # linger on, timeout 0: close() sends RST instead of FIN
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                    except OSError:
                        pass
            w.close()
        for t in self.tasks:
            if t is not asyncio.current_task():
                t.cancel()


class FaultProxy:
    """Listens on 127.0.0.1 and forwards each connection to one upstream server."""

    def __init__(self, upstream_host: str, upstream_port: int, *, port: int = 0,
                 lying: bool = False, seed: int = 0, hold_s: float = 2.0,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None,
                 upstream_unix: str | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.upstream_unix = upstream_unix
        self.port = port
        self.liar: Liar | None = Liar(seed) if lying else None
        self.hold_s = hold_s
        self.on_event = on_event
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.dropped_bytes = 0  # discarded by blackhole(lose=True)
        self.held_bytes = 0     # held by blackhole() until heal()
        self.accepted = 0
        self._delay = {d: 0.0 for d in DIRECTIONS}
        self._blackholed: dict[str, bool] = {}  # direction -> lose
        self._server: asyncio.base_events.Server | None = None
        self._conns: dict[int, _Conn] = {}
        self._next_cid = 1
        self._flusher: asyncio.Task[None] | None = None

    @classmethod
    def for_remote(cls, remote: str, **kw: Any) -> FaultProxy:
        kind, host, port = parse_remote(remote)
        if kind == "unix":
            return cls("", 0, upstream_unix=host, **kw)
        return cls(host, port, **kw)

    @property
    def remote(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    @property
    def lies_told(self) -> list[dict[str, Any]]:
        return self.liar.told if self.liar else []

    @property
    def connections(self) -> int:
        return len(self._conns)

    async def __aenter__(self) -> FaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> FaultProxy:
        await self._listen()
        if self.liar is not None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for c in list(self._conns.values()):
            c.close()
        self._conns.clear()

    # faults
    def _event(self, name: str, **params: Any) -> None:
        self.events.append((time.monotonic_ns(), name, params))
        if self.on_event is not None:
            self.on_event(name, params)

    def set_delay(self, ms: float, direction: str = "both") -> None:
        for d in _dirs(direction):
            self._delay[d] = max(0.0, ms) / 1000.0
        self._event("delay", ms=ms, direction=direction)

    def blackhole(self, direction: str = "both", lose: bool = False) -> None:
        for d in _dirs(direction):
            self._blackholed[d] = lose
        self._event("blackhole", direction=direction, lose=lose)

    def reset(self) -> None:
        n = len(self._conns)
        for c in list(self._conns.values()):
            c.close(rst=True)
        self._conns.clear()
        self._event("reset", connections=n)

    async def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._event("stop_accepting")

    async def resume_accepting(self) -> None:
        if self._server is None:
            await self._listen()
        self._event("resume_accepting")

    async def heal(self) -> None:
        self._delay = {d: 0.0 for d in DIRECTIONS}
        self._blackholed.clear()
        for c in list(self._conns.values()):
            c.release()
        if self._server is None:
            await self._listen()
        self._event("heal")

    def lie(self, kind: str, count: int = 1, skip: int = 0, every: int = 5,
            **params: Any) -> None:
        if self.liar is None:
            raise RuntimeError("lies need FaultProxy(..., lying=True)")
        self.liar.arm(kind, count, skip, every, **params)
        self._event("lie", kind=kind, count=count, skip=skip, every=every, **params)

    # plumbing
    async def _accept(self, c_reader: asyncio.StreamReader,
                      c_writer: asyncio.StreamWriter) -> None:
        try:
            if self.upstream_unix is not None:
                coro = asyncio.open_unix_connection(self.upstream_unix)
            else:
                coro = asyncio.open_connection(*self.upstream)
            u_reader, u_writer = await asyncio.wait_for(coro, 5.0)
        except (OSError, asyncio.TimeoutError):
            c_writer.close()
            return
        cid = self._next_cid
        self._next_cid += 1
        self.accepted += 1
        conn = _Conn(self, cid, c_reader, c_writer, u_reader, u_writer)
        self._conns[cid] = conn
        conn.start()

    def _drop_conn(self, conn: _Conn) -> None:
        if self._conns.pop(conn.cid, None) is not None:
            conn.close()
        if self.liar is not None:
            self.liar.close(conn.cid)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            assert self.liar is not None
            now = time.monotonic()
            for c in list(self._conns.values()):
                c.emit_messages(self.liar.flush(c.cid, now, self.hold_s))
