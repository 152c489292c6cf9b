"""A plain TCP-to-Unix-socket relay on 127.0.0.1.

Why: cluster members in network namespaces are reached over Unix sockets, while the
fault proxy (``harness.proxy.FaultProxy``) forwards to TCP.  Putting this relay between
the proxy and a member's socket lets client-link faults reach cluster members too.  It
copies bytes both ways and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib


class UnixRelay:
    def __init__(self, path: str) -> None:
        self.path = path
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> UnixRelay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for t in list(self._tasks):
            t.cancel()
        for t in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    async def _accept(self, c_reader: asyncio.StreamReader,
                      c_writer: asyncio.StreamWriter) -> None:
        try:
            u_reader, u_writer = await asyncio.wait_for(
                asyncio.open_unix_connection(self.path), 5.0)
        except (OSError, asyncio.TimeoutError):
            c_writer.close()
            return
        pumps = [asyncio.ensure_future(self._pump(c_reader, u_writer)),
                 asyncio.ensure_future(self._pump(u_reader, c_writer))]
        for p in pumps:
            self._tasks.add(p)
            p.add_done_callback(self._tasks.discard)
        # When either side ends, end both: a relay must not keep half a session alive.
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for p in pumps:
            p.cancel()
        for w in (c_writer, u_writer):
            w.close()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
