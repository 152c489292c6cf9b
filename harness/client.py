"""An asyncio OVSDB JSON-RPC client (RFC 7047) that knows only the wire.

The harness talks to every target (the real ovsdb-server, our reference server, any
other implementation) through this module, so it depends on nothing but the protocol.

Layers
------
``harness.framing.Framer`` (sans-I/O)
    ``feed(bytes) -> list[message]``: OVSDB puts messages back to back on the stream
    with no delimiter; the framer, shared with the tests, splits them.
``Client`` (asyncio shell)
    Owns one connection.  Request ids are integers counting from 1.  Replies resolve
    the caller's future; everything else the server sends (``update``, ``update2``,
    ``update3``, ``locked``, ``stolen``, ``monitor_canceled``, ...) goes to
    ``client.notifications``, an ``asyncio.Queue`` of ``Notification``.  The server's
    inactivity probe (``echo`` request) is answered at once, so idle sessions live.

API
---
``client = await Client.connect("tcp:127.0.0.1:6641", timeout=5)`` (also
``"unix:/path"``; ``Client.connect_tcp(host, port)``).

``await client.call(method, params, timeout=None) -> result``
    Raises ``RpcError`` when the reply's ``error`` is not null, ``RpcTimeout`` (a
    ``TimeoutError``) when no reply came in time (the request may still take effect:
    the caller should record the op as indeterminate), ``ConnectionLost`` when the
    connection closed before the reply.
``await client.notify(method, params)``: a JSON-RPC notification (``cancel``,
    ``monitor_cancel`` is a request, ...).
Helpers: ``list_dbs``, ``get_schema(db)``, ``transact(db, ops)`` (returns the
    per-op result list; op errors are in the list, not raised), ``monitor(db, id,
    requests)``, ``monitor_cond(db, id, requests)``, ``monitor_cond_since(db, id,
    requests, last_txn_id)`` (returns ``[found, last_txn_id, updates]``),
    ``monitor_cond_change``, ``monitor_cancel``, ``set_db_change_aware``, ``echo``,
    ``lock``/``steal``/``unlock``, ``get_server_id``.
``await client.close()``; ``client.closed`` is a future resolved when the connection
    ends (by either side); pending calls then fail with ``ConnectionLost``.

Every ``Notification`` carries ``time_ns`` (``time.monotonic_ns()`` at arrival) so
monitor checkers can order updates against the operation history.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson

from harness.framing import Framer, FramingError

__all__ = [
    "Client",
    "ConnectionLost",
    "Notification",
    "RpcError",
    "RpcTimeout",
    "parse_remote",
]


class RpcError(Exception):
    """The server answered a request with a non-null ``error``."""

    def __init__(self, error: Any, method: str = "") -> None:
        super().__init__(f"{method}: {error!r}" if method else repr(error))
        self.error = error
        self.method = method


class RpcTimeout(TimeoutError):
    """No reply within the caller's timeout; the request may or may not take effect."""


class ConnectionLost(ConnectionError):
    """The connection closed while a reply was still owed."""


@dataclass(frozen=True)
class Notification:
    method: str
    params: Any
    time_ns: int


def parse_remote(remote: str) -> tuple[str, str, int]:
    """``tcp:HOST:PORT`` -> ("tcp", host, port); ``unix:PATH`` -> ("unix", path, 0)."""
    kind, _, rest = remote.partition(":")
    if kind == "unix" and rest:
        return "unix", rest, 0
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if host and port.isdigit():
            return "tcp", host, int(port)
    raise ValueError(f"unsupported remote {remote!r}: use tcp:HOST:PORT or unix:PATH")


class Client:
    """One JSON-RPC session with an OVSDB server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 remote: str = "") -> None:
        self.remote = remote
        self._reader = reader
        self._writer = writer
        self._framer = Framer()
        self._next_id = 1
        self._pending: dict[Any, tuple[str, asyncio.Future[Any]]] = {}
        self.notifications: asyncio.Queue[Notification] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.close_reason: str = ""
        self._reader_task = loop.create_task(self._read_loop())

    # -- connecting -----------------------------------------------------------------

    @classmethod
    async def connect(cls, remote: str, timeout: float = 5.0) -> Client:
        kind, host, port = parse_remote(remote)
        if kind == "unix":
            coro = asyncio.open_unix_connection(host)
        else:
            coro = asyncio.open_connection(host, port)
        reader, writer = await asyncio.wait_for(coro, timeout)
        return cls(reader, writer, remote)

    @classmethod
    async def connect_tcp(cls, host: str, port: int, timeout: float = 5.0) -> Client:
        return await cls.connect(f"tcp:{host}:{port}", timeout)

    async def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        self._reader_task.cancel()
        try:
            await self._reader_task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing anyway
            pass
        self._finish("closed by client")
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)
        except (OSError, asyncio.TimeoutError):
            pass

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def is_closed(self) -> bool:
        return self.closed.done()

    # -- sending --------------------------------------------------------------------

    def _send(self, msg: dict[str, Any]) -> None:
        if self.closed.done():
            raise ConnectionLost(f"connection to {self.remote} is closed: {self.close_reason}")
        self._writer.write(orjson.dumps(msg))

    async def call(self, method: str, params: Any, timeout: float | None = None) -> Any:
        rid = self._next_id
        self._next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = (method, fut)
        try:
            self._send({"method": method, "params": params, "id": rid})
            await self._writer.drain()
            if timeout is None:
                return await fut
            try:
                return await asyncio.wait_for(asyncio.shield(fut), timeout)
            except asyncio.TimeoutError:
                raise RpcTimeout(f"{method}: no reply within {timeout}s") from None
        except (ConnectionResetError, BrokenPipeError) as e:
            raise ConnectionLost(f"{method}: {e}") from e
        finally:
            self._pending.pop(rid, None)

    async def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params, "id": None})
        await self._writer.drain()

    # -- receiving ------------------------------------------------------------------

    async def _read_loop(self) -> None:
        reason = "closed by server"
        try:
            while True:
                data = await self._reader.read(1 << 16)
                if not data:
                    break
                for msg in self._framer.feed(data):
                    self._dispatch(msg)
        except asyncio.CancelledError:
            reason = "closed by client"
            raise
        except (OSError, FramingError) as e:
            reason = f"{type(e).__name__}: {e}"
        finally:
            self._finish(reason)

    def _dispatch(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        method = msg.get("method")
        if method is not None:
            rid = msg.get("id")
            if method == "echo" and rid is not None:
                # The server's inactivity probe: answer with the same params.
                self._writer.write(orjson.dumps(
                    {"result": msg.get("params", []), "error": None, "id": rid}))
                return
            self.notifications.put_nowait(
                Notification(method, msg.get("params"), time.monotonic_ns()))
            return
        entry = self._pending.get(msg.get("id"))
        if entry is None:
            return  # a reply to a call that timed out: nobody waits for it
        name, fut = entry
        if fut.done():
            return
        if msg.get("error") is not None:
            fut.set_exception(RpcError(msg["error"], name))
        else:
            fut.set_result(msg.get("result"))

    def _finish(self, reason: str) -> None:
        if self.closed.done():
            return
        self.close_reason = reason
        self.closed.set_result(None)
        for name, fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionLost(f"{name}: {reason}"))
                # Nobody may await a future whose call timed out; mark it retrieved.
                fut.exception()
        if not self._writer.is_closing():
            self._writer.close()

    # -- OVSDB helpers --------------------------------------------------------------

    async def list_dbs(self, timeout: float | None = None) -> list[str]:
        return await self.call("list_dbs", [], timeout)

    async def get_schema(self, db: str, timeout: float | None = None) -> dict[str, Any]:
        return await self.call("get_schema", [db], timeout)

    async def transact(self, db: str, ops: list[dict[str, Any]],
                       timeout: float | None = None) -> list[Any]:
        return await self.call("transact", [db, *ops], timeout)

    async def monitor(self, db: str, monitor_id: Any, requests: dict[str, Any],
                      timeout: float | None = None) -> dict[str, Any]:
        return await self.call("monitor", [db, monitor_id, requests], timeout)

    async def monitor_cond(self, db: str, monitor_id: Any, requests: dict[str, Any],
                           timeout: float | None = None) -> dict[str, Any]:
        return await self.call("monitor_cond", [db, monitor_id, requests], timeout)

    async def monitor_cond_since(self, db: str, monitor_id: Any, requests: dict[str, Any],
                                 last_txn_id: str | None = None,
                                 timeout: float | None = None) -> list[Any]:
        last = last_txn_id or "00000000-0000-0000-0000-000000000000"
        return await self.call("monitor_cond_since", [db, monitor_id, requests, last], timeout)

    async def monitor_cond_change(self, old_id: Any, new_id: Any, requests: dict[str, Any],
                                  timeout: float | None = None) -> Any:
        return await self.call("monitor_cond_change", [old_id, new_id, requests], timeout)

    async def monitor_cancel(self, monitor_id: Any, timeout: float | None = None) -> Any:
        return await self.call("monitor_cancel", [monitor_id], timeout)

    async def set_db_change_aware(self, aware: bool = True,
                                  timeout: float | None = None) -> Any:
        return await self.call("set_db_change_aware", [aware], timeout)

    async def get_server_id(self, timeout: float | None = None) -> str:
        return await self.call("get_server_id", [], timeout)

    async def echo(self, payload: list[Any] | None = None,
                   timeout: float | None = None) -> Any:
        return await self.call("echo", payload if payload is not None else [], timeout)

    async def lock(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        return await self.call("lock", [name], timeout)

    async def steal(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        return await self.call("steal", [name], timeout)

    async def unlock(self, name: str, timeout: float | None = None) -> Any:
        return await self.call("unlock", [name], timeout)

    async def next_notification(self, timeout: float) -> Notification:
        """The next queued notification; ``RpcTimeout`` if none arrives in time."""
        try:
            return await asyncio.wait_for(self.notifications.get(), timeout)
        except asyncio.TimeoutError:
            raise RpcTimeout(f"no notification within {timeout}s") from None
