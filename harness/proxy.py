"""The fault proxy of a campaign: a faulty link in front of a server's client port,
which can also lie.

``FaultProxy`` is a ``harness.nemesis.link.Link`` (every link fault: delay, one-way
and two-way blackholes, resets, refusing connections; see there) that, when lying,
frames each direction's JSON-RPC messages and lets the sans-I/O ``harness.liar.Liar``
decide what to send instead.  This module is only that socket shell: the lies and
their rules are in ``harness.liar``.

API
---
``proxy = FaultProxy("127.0.0.1", upstream_port, lying=False, seed=0)``, or
``FaultProxy.for_remote("tcp:HOST:PORT" | "unix:PATH", ...)`` (the cluster targets
give their members Unix sockets; the proxy still listens on 127.0.0.1).
``await proxy.start()`` / ``stop()``, ``proxy.port``, ``proxy.remote``, faults and
``events`` as for ``Link``.  ``proxy.lie(kind, count=1, skip=0, every=5, **params)``
arms a lie (needs ``lying=True``; kinds in ``harness.liar.LIES``); ``proxy.lies_told``
lists what was done, and each lie told is also an event ``lie_told``.  A held update
(``reorder_updates``) whose partner never comes is released after ``hold_s``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from harness.client import parse_remote
from harness.framing import Framer
from harness.liar import Liar, Out, describe
from harness.nemesis.link import DIRECTIONS, Link

__all__ = ["FaultProxy"]

Chunks = list[tuple[str, bytes]]


class _Lying:
    """The link's message filter: bytes -> messages -> Liar -> bytes."""

    def __init__(self, liar: Liar, hold_s: float,
                 on_told: Callable[[dict[str, Any]], None]) -> None:
        self.liar = liar
        self.hold_s = hold_s
        self.on_told = on_told
        self.framers: dict[tuple[int, str], Framer] = {}

    @staticmethod
    def _encode(outs: Out) -> Chunks:
        return [(d, orjson.dumps(m)) for d, m in outs]

    def feed(self, conn: int, direction: str, data: bytes, now: float) -> Chunks:
        framer = self.framers.setdefault((conn, direction), Framer())
        chunks: Chunks = []
        for msg in framer.feed(data):  # FramingError (a ValueError) ends the connection
            told = len(self.liar.told)
            chunks += self._encode(self.liar.on_message(conn, direction, msg, now))
            for t in self.liar.told[told:]:
                self.on_told(t)
        return chunks

    def tick(self, conn: int, now: float) -> Chunks:
        return self._encode(self.liar.flush(conn, now, self.hold_s))

    def close(self, conn: int) -> None:
        for d in DIRECTIONS:
            self.framers.pop((conn, d), None)
        self.liar.close(conn)


class FaultProxy(Link):
    """Listens on 127.0.0.1 and forwards each connection to one upstream server."""

    def __init__(self, upstream_host: str, upstream_port: int, *, port: int = 0,
                 lying: bool = False, seed: int = 0, hold_s: float = 2.0,
                 on_event: Callable[[str, dict[str, Any]], None] | None = None,
                 upstream_unix: str | None = None) -> None:
        self.liar: Liar | None = Liar(seed) if lying else None
        lying_filter = None
        if self.liar is not None:
            lying_filter = _Lying(self.liar, hold_s, lambda t: self._event(
                "lie_told", lie=t["lie"], conn=t["conn"], told=describe(t)))
        upstream = (f"unix:{upstream_unix}" if upstream_unix is not None
                    else f"tcp:{upstream_host}:{upstream_port}")
        super().__init__(upstream, port=port, on_event=on_event,
                         message_filter=lying_filter)

    @classmethod
    def for_remote(cls, remote: str, **kw: Any) -> FaultProxy:
        kind, host, port = parse_remote(remote)
        if kind == "unix":
            return cls("", 0, upstream_unix=host, **kw)
        return cls(host, port, **kw)

    @property
    def lies_told(self) -> list[dict[str, Any]]:
        return self.liar.told if self.liar else []

    def lie(self, kind: str, count: int = 1, skip: int = 0, every: int = 5,
            **params: Any) -> None:
        if self.liar is None:
            raise RuntimeError("lies need FaultProxy(..., lying=True)")
        self.liar.arm(kind, count, skip, every, **params)
        self._event("lie", kind=kind, count=count, skip=skip, every=every, **params)
