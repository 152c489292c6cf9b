"""A faulty network link: a TCP listener whose connections are relayed, byte for byte,
to one upstream address, with the faults a nemesis puts on a link.

(Named ``link`` because OVSDB relays, servers that replicate another server's
database, are something else: ``reference/relay/``.)  This is the harness's one byte
relay; it serves three uses:

- in front of each server's client port, the fault proxy of a campaign
  (``harness.proxy.FaultProxy`` adds lies on top, through ``MessageFilter``);
- towards a cluster member that is reached over a Unix socket (``upstream`` may be
  ``unix:PATH``);
- inside a member's network namespace, delaying its Raft links, where ``tc netem`` is
  missing (``harness.targets.netns`` runs ``python -m harness.nemesis.link``, below).

API
---
``link = Link("tcp:HOST:PORT" | "unix:PATH", port=0, listen_host="127.0.0.1",
source_ip=None, on_event=None, message_filter=None)``; ``await link.start()``;
``link.port``, ``link.remote`` (``"tcp:127.0.0.1:PORT"``); ``await link.stop()``
closes the listener and every connection.  Also ``async with Link(...) as link:``.

Faults (at once, on existing and new connections; each is logged in ``link.events`` as
``(time.monotonic_ns(), name, params)`` and passed to ``on_event(name, params)``):

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

Directions are ``"c2s"`` (from the connecting side to upstream), ``"s2c"`` and
``"both"``.  When either direction of a connection ends, both do, as with a crashed
peer: a link never keeps half a session alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from harness.client import parse_remote

__all__ = ["DIRECTIONS", "Link", "MessageFilter", "directions"]

DIRECTIONS = ("c2s", "s2c")
Chunks = list[tuple[str, bytes]]


def directions(direction: str) -> tuple[str, ...]:
    if direction == "both":
        return DIRECTIONS
    if direction in DIRECTIONS:
        return (direction,)
    raise ValueError(f"direction must be c2s, s2c or both, not {direction!r}")


class MessageFilter(Protocol):
    """What a link does to the bytes it reads, if not passing them on as they are.

    ``feed`` gets what connection ``conn`` read in ``direction``, ``tick`` is called
    every 50 ms per connection (for what a filter holds back by time); both return the
    ``(direction, bytes)`` chunks to send.  ``feed`` raising ``ValueError`` ends the
    connection (a stream the filter cannot read).  ``close`` says a connection ended:
    whatever the filter still held for it is lost with it."""

    def feed(self, conn: int, direction: str, data: bytes, now: float) -> Chunks: ...

    def tick(self, conn: int, now: float) -> Chunks: ...

    def close(self, conn: int) -> None: ...


class _Conn:
    """One relayed connection: per direction a pump (read, filter) feeding an ordered
    delivery queue (delay, write)."""

    def __init__(self, link: Link, cid: int, c_reader: asyncio.StreamReader,
                 c_writer: asyncio.StreamWriter, u_reader: asyncio.StreamReader,
                 u_writer: asyncio.StreamWriter) -> None:
        self.link = link
        self.cid = cid
        self.readers = {"c2s": c_reader, "s2c": u_reader}
        self.writers = {"c2s": u_writer, "s2c": c_writer}
        self.queues: dict[str, asyncio.Queue[tuple[float, bytes | None]]] = {
            d: asyncio.Queue() for d in DIRECTIONS}
        self.held: dict[str, list[bytes]] = {d: [] for d in DIRECTIONS}  # blackholed
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for d in DIRECTIONS:
            self.tasks.append(loop.create_task(self._pump(d)))
            self.tasks.append(loop.create_task(self._deliver(d)))

    def emit(self, direction: str, data: bytes) -> None:
        lose = self.link._blackholed.get(direction)
        if lose is not None:
            if lose:
                self.link.dropped_bytes += len(data)
            else:
                self.link.held_bytes += len(data)
                self.held[direction].append(data)
            return
        due = time.monotonic() + self.link._delay[direction]
        self.queues[direction].put_nowait((due, data))

    def emit_all(self, chunks: Chunks) -> None:
        for d, data in chunks:
            self.emit(d, data)

    def release(self) -> None:
        """After a heal: what a blackhole held goes on, in order, before anything new."""
        for d in DIRECTIONS:
            held, self.held[d] = self.held[d], []
            for data in held:
                self.emit(d, data)

    async def _pump(self, direction: str) -> None:
        reader = self.readers[direction]
        flt = self.link.message_filter
        try:
            while data := await reader.read(1 << 16):
                if flt is None:
                    self.emit(direction, data)
                else:
                    self.emit_all(flt.feed(self.cid, direction, data, time.monotonic()))
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
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
            self.link._drop_conn(self)

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


class Link:
    """Listens on ``listen_host:port`` and relays each connection to ``upstream``."""

    def __init__(self, upstream: str, *, port: int = 0, listen_host: str = "127.0.0.1",
                 source_ip: str | None = None,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None,
                 message_filter: MessageFilter | None = None) -> None:
        self.upstream = upstream
        self._upstream = parse_remote(upstream)
        self.listen_host = listen_host
        self.port = port
        self.source_ip = source_ip  # connect upstream from this address (netns relays)
        self.on_event = on_event
        self.message_filter = message_filter
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.dropped_bytes = 0  # discarded by blackhole(lose=True)
        self.held_bytes = 0     # held by blackhole() until heal()
        self.accepted = 0
        self._delay = {d: 0.0 for d in DIRECTIONS}
        self._blackholed: dict[str, bool] = {}  # direction -> lose
        self._server: asyncio.base_events.Server | None = None
        self._conns: dict[int, _Conn] = {}
        self._next_cid = 1
        self._ticker: asyncio.Task[None] | None = None

    @property
    def remote(self) -> str:
        return f"tcp:{self.listen_host}:{self.port}"

    @property
    def connections(self) -> int:
        return len(self._conns)

    async def __aenter__(self) -> Link:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> Link:
        await self._listen()
        if self.message_filter is not None:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_loop())
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        await self._close_listener()
        for c in list(self._conns.values()):
            c.close()
        self._conns.clear()

    # -- faults -------------------------------------------------------------------------

    def _event(self, name: str, **params: Any) -> None:
        self.events.append((time.monotonic_ns(), name, params))
        if self.on_event is not None:
            self.on_event(name, params)

    def set_delay(self, ms: float, direction: str = "both") -> None:
        for d in directions(direction):
            self._delay[d] = max(0.0, ms) / 1000.0
        self._event("delay", ms=ms, direction=direction)

    def blackhole(self, direction: str = "both", lose: bool = False) -> None:
        for d in directions(direction):
            self._blackholed[d] = lose
        self._event("blackhole", direction=direction, lose=lose)

    def reset(self) -> None:
        n = len(self._conns)
        for c in list(self._conns.values()):
            c.close(rst=True)
        self._conns.clear()
        self._event("reset", connections=n)

    async def stop_accepting(self) -> None:
        await self._close_listener()
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

    # -- plumbing -----------------------------------------------------------------------

    async def _connect_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        kind, host, port = self._upstream
        if kind == "unix":
            return await asyncio.open_unix_connection(host)
        local = (self.source_ip, 0) if self.source_ip else None
        return await asyncio.open_connection(host, port, local_addr=local)

    async def _accept(self, c_reader: asyncio.StreamReader,
                      c_writer: asyncio.StreamWriter) -> None:
        try:
            u_reader, u_writer = await asyncio.wait_for(self._connect_upstream(), 5.0)
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
        if self.message_filter is not None:
            self.message_filter.close(conn.cid)

    async def _tick_loop(self) -> None:
        assert self.message_filter is not None
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            for c in list(self._conns.values()):
                c.emit_all(self.message_filter.tick(c.cid, now))


# -- a delaying link as a process, for a member's network namespace ----------------------

async def _serve_delayed(listen_ip: str, listen_port: int, peer: str, delay_ms: float,
                         source_ip: str | None) -> None:
    link = Link(peer, port=listen_port, listen_host=listen_ip, source_ip=source_ip)
    await link.start()
    link.set_delay(delay_ms)
    print("ready", flush=True)  # the parent waits for this line before redirecting
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.Event().wait()  # until the parent kills us


def main(argv: list[str]) -> int:
    """``python -m harness.nemesis.link LISTEN_IP LISTEN_PORT PEER_IP PEER_PORT DELAY_MS
    [SOURCE_IP]``: relay LISTEN to PEER adding DELAY_MS each way, connecting from
    SOURCE_IP (an address the namespace's redirect rule exempts, so the link's own
    connections are not redirected back into it)."""
    listen_ip, listen_port, peer_ip, peer_port, delay_ms, *source = argv
    asyncio.run(_serve_delayed(listen_ip, int(listen_port), f"tcp:{peer_ip}:{peer_port}",
                               float(delay_ms), source[0] if source else None))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
