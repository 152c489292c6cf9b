"""The asyncio shell around ``ServerCore``: listeners, connections, timers, unixctl.

It only moves bytes and carries out effects: each connection feeds a ``StreamDecoder``
and hands messages to the core; what the core returns is written out, and proposed
changes go to their database's storage, whose answer goes back to the core (standalone
storage commits at once, so within the same step).  Three things live here because
they are about time or sockets, not protocol:

- the inactivity probe (ovsdb-server's: after ``probe_ms`` without input, send an
  ``echo`` request with id "echo"; after as long again with nothing, disconnect);
- back-pressure: asyncio tells a protocol when its write buffer passes the high-water
  mark, and the core is told the session is backlogged, so monitor updates for it are
  merged rather than queued without bound;
- the timer for ``wait`` operations with a timeout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from reference.monitor import Delivery
from reference.server.core import Close, Out, Send, ServerCore
from reference.wire import jsonrpc

log = logging.getLogger("reference.server")

WRITE_HIGH_WATER = 4 * 1024 * 1024
WRITE_LOW_WATER = 1024 * 1024


def _reason(e: OSError, host: str = "") -> str:
    """An OSError as ovsdb-server words it: the system's text, without Python's
    "[Errno N]" (a name that does not resolve says so)."""
    if isinstance(e, socket.gaierror):
        return f"{host}: failed to resolve"
    if e.errno:  # uvloop's bind errors carry the errno but a longer text of their own
        return os.strerror(e.errno)
    return e.strerror or str(e)


def now_ms() -> float:
    return time.monotonic() * 1000.0


@dataclass(frozen=True)
class Remote:
    """A --remote: passive (ptcp/punix) listens, active (tcp/unix) connects out."""

    kind: str  # ptcp | punix | tcp | unix
    host: str = ""
    port: int = 0
    path: str = ""

    def __str__(self) -> str:
        if self.kind in ("punix", "unix"):
            return f"{self.kind}:{self.path}"
        if self.kind == "ptcp":
            return f"ptcp:{self.port}:{self.host}"
        return f"tcp:{self.host}:{self.port}"


class StartupError(Exception):
    """The server cannot start as asked (a listener or the control socket cannot be
    set up): the message is one line for the user, in ovsdb-server's words."""


def _port(text: str, remote: str) -> int:
    """A TCP port number, refused (as ovsdb-server does) unless 0..65535."""
    if not text.isdigit() or int(text) > 65535:
        raise ValueError(f'{remote}: bad port number "{text}"')
    return int(text)


def parse_remote(text: str) -> Remote:
    """Parse ovsdb-server's remote syntax: ptcp:PORT[:IP], punix:PATH, tcp:IP:PORT,
    unix:PATH.  Raises ValueError with a one-line reason."""
    kind, _, rest = text.partition(":")
    if kind == "ptcp":
        port, _, host = rest.partition(":")
        return Remote("ptcp", host.strip("[]") or "0.0.0.0", _port(port, text))
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if not host:
            # ovsdb-server would take "tcp:16641" as host 16641 on its default port and
            # retry it forever; an active remote needs both.
            raise ValueError(f'{text}: bad port number "" (expected tcp:IP:PORT)')
        return Remote("tcp", host.strip("[]"), _port(port, text))
    if kind in ("punix", "unix") and rest:
        return Remote(kind, path=rest)
    raise ValueError(f"{text}: unknown or malformed remote (expected ptcp:PORT[:IP], "
                     "punix:PATH, tcp:IP:PORT or unix:PATH)")


class Connection(asyncio.Protocol):
    def __init__(self, server: "ServerShell", name: str) -> None:
        self.server = server
        self.name = name
        self.core = server.core
        self.sid = self.core.open_session()
        self.decoder = jsonrpc.StreamDecoder(server.max_message_bytes)
        self.transport: asyncio.Transport | None = None
        self.last_input = now_ms()
        self.probe_sent = False
        self.pending: list[bytes] = []  # output held while the server is corked
        self.closed = asyncio.get_running_loop().create_future()

    # asyncio callbacks

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.set_write_buffer_limits(WRITE_HIGH_WATER, WRITE_LOW_WATER)
        self.server.connections[self.sid] = self
        log.debug("%s: connected", self.name)

    def data_received(self, data: bytes) -> None:
        self.last_input = now = now_ms()
        self.probe_sent = False
        try:
            self.handle(self.decoder.feed(data), now)
        except jsonrpc.FramingError as e:
            self.handle(e.messages, now)  # what came before the error is answered first
            self.drop(str(e))

    def handle(self, messages: list[jsonrpc.Message], now: float) -> None:
        # Replies and updates caused by one batch of input are written with one send
        # per connection, not one per message (pipelining clients send many at once).
        # Like ovsdb-server, which reads its clock once per pass of its main loop, the
        # messages of one batch are all handled at the time it arrived.
        server, core, sid = self.server, self.core, self.sid
        server.corked = True
        try:
            for msg in messages:
                if self.transport is None or self.transport.is_closing():
                    return
                if type(msg) is jsonrpc.Reply and msg.id == "echo":
                    continue  # the answer to our inactivity probe
                server.deliver(core.receive(sid, msg, now), now)
        finally:
            server.uncork()

    def connection_lost(self, exc) -> None:
        self.transport = None
        self.server.connections.pop(self.sid, None)
        self.server.dispatch(self.core.close_session(self.sid))
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self.server.dispatch(self.core.set_backlogged(self.sid, True))

    def resume_writing(self) -> None:
        self.server.dispatch(self.core.set_backlogged(self.sid, False))

    # our side

    def write(self, data: bytes) -> None:
        if self.server.corked:
            if not self.pending:
                self.server.dirty.append(self)
            self.pending.append(data)
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def flush(self) -> None:
        if self.pending:
            data, self.pending = b"".join(self.pending), []
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(data)

    def drop(self, reason: str) -> None:
        """Drop the connection after a protocol error (answers already queued go out)."""
        self.flush()
        log.warning("%s: %s", self.name, reason)
        log.warning("%s: connection dropped (Protocol error)", self.name)
        if self.transport is not None:
            self.transport.close()

    def disconnect(self, reason: str) -> None:
        """Close after what is already queued has been written."""
        self.flush()
        log.info("%s: %s", self.name, reason)
        if self.transport is not None:
            self.transport.close()

    def probe(self, probe_ms: float, now: float) -> None:
        idle = now - self.last_input
        if self.probe_sent and idle >= 2 * probe_ms:
            log.warning("%s: no response to inactivity probe after %.3g seconds, "
                        "disconnecting", self.name, idle / 1000)
            if self.transport is not None:
                self.transport.abort()
        elif not self.probe_sent and idle >= probe_ms:
            self.write(jsonrpc.encode_request("echo", [], "echo"))
            self.probe_sent = True


class ServerShell:
    def __init__(self, core: ServerCore, remotes: list[Remote], *,
                 max_message_bytes: int = jsonrpc.DEFAULT_MAX_MESSAGE_BYTES,
                 probe_ms: float = 5000.0,
                 unixctl_path: str | None = None,
                 unixctl_commands: dict[str, Callable[[list[str]], str]] | None = None,
                 on_tick: Callable[[], None] | None = None) -> None:
        self.core = core
        self.remotes = remotes
        self.max_message_bytes = max_message_bytes
        self.probe_ms = probe_ms
        self.unixctl_path = unixctl_path
        self.unixctl_commands = dict(unixctl_commands or {})
        self.unixctl_commands.setdefault("exit", self._exit_command)
        self.on_tick = on_tick
        self.connections: dict[int, Connection] = {}
        self.listeners: list[asyncio.AbstractServer] = []
        self.stopping = asyncio.Event()
        self._wait_timer: asyncio.TimerHandle | None = None
        self._wait_deadline: float | None = None
        self.corked = False  # while True, writes are gathered per connection
        self.dirty: list[Connection] = []
        self._tasks: list[asyncio.Task] = []
        self._owned_paths: list[str] = []  # sockets this server made: removed on close

    def dispatch(self, outs: list[Out]) -> None:
        self.deliver(outs, now_ms())
        self._arm_wait_timer()

    def deliver(self, outs: list[Out], now: float) -> None:
        """Carry out what the core asked (dispatch also re-arms the wait timer).  A
        proposal's commit is handed back to the core and what that yields is carried
        out before the rest of ``outs``: a loop over a stack, not recursion, as one
        commit may release a long chain of blocked transactions."""
        connections, core = self.connections, self.core
        stack = [iter(outs)]
        while stack:
            for out in stack[-1]:
                kind = type(out)
                if kind is Delivery:
                    for sid in out.sessions:
                        conn = connections.get(sid)
                        if conn is not None:
                            conn.write(out.data)
                elif kind is Send:
                    conn = connections.get(out.session)
                    if conn is not None:
                        conn.write(out.data)
                elif kind is Close:
                    conn = connections.get(out.session)
                    if conn is not None:
                        conn.disconnect(out.reason)
                else:  # a proposal: standalone storage answers at once
                    answered = core.dbs[out.database].storage.propose(out)
                    if answered is not None:
                        stack.append(iter(core.advance(answered, now)))
                        break
            else:
                stack.pop()

    def uncork(self) -> None:
        self.corked = False
        dirty, self.dirty = self.dirty, []
        for conn in dirty:
            conn.flush()
        self._arm_wait_timer()

    def _arm_wait_timer(self) -> None:
        deadline = self.core.next_deadline()
        if deadline == self._wait_deadline:
            return
        self._wait_deadline = deadline
        if self._wait_timer is not None:
            self._wait_timer.cancel()
            self._wait_timer = None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, (deadline - now_ms()) / 1000.0)
            self._wait_timer = loop.call_later(delay, self._on_wait_timer)

    def _on_wait_timer(self) -> None:
        self._wait_timer = None
        self._wait_deadline = None
        self.dispatch(self.core.expire(now_ms()))

    async def start(self) -> None:
        """Listen on the passive remotes and the control socket, connect the active
        ones. Raises StartupError (having closed what it opened) if one cannot listen."""
        loop = asyncio.get_running_loop()
        for remote in self.remotes:
            try:
                if remote.kind == "ptcp":
                    srv = await loop.create_server(lambda r=remote: self._accept(r),
                                                   remote.host, remote.port,
                                                   reuse_address=True)
                    self.listeners.append(srv)
                elif remote.kind == "punix":
                    if os.path.exists(remote.path):
                        os.unlink(remote.path)
                    srv = await loop.create_unix_server(lambda r=remote: self._accept(r),
                                                        remote.path)
                    self.listeners.append(srv)
                    self._owned_paths.append(remote.path)
                else:
                    self._tasks.append(asyncio.create_task(self._active(remote)))
            except OSError as e:
                await self.close()
                raise StartupError(f"{remote}: listen failed: {_reason(e, remote.host)}") from None
            log.info("%s: listening" if remote.kind.startswith("p") else "%s: connecting",
                     remote)
        if not self.remotes:
            log.warning("no --remote given: no client can connect (add e.g. "
                        "--remote=ptcp:6640:127.0.0.1 or --remote=punix:PATH)")
        if self.unixctl_path:
            try:
                if os.path.exists(self.unixctl_path):
                    os.unlink(self.unixctl_path)
                self.listeners.append(await asyncio.start_unix_server(self._unixctl,
                                                                      self.unixctl_path))
            except OSError as e:
                await self.close()
                raise StartupError(f"{self.unixctl_path}: could not initialize control "
                                   f"socket ({_reason(e)})") from None
            self._owned_paths.append(self.unixctl_path)
        self._tasks.append(asyncio.create_task(self._housekeeping()))

    def _accept(self, remote: Remote) -> Connection:
        return Connection(self, str(remote))

    async def _active(self, remote: Remote) -> None:
        """Connect out and serve a session on it; reconnect with backoff when it drops."""
        loop = asyncio.get_running_loop()
        backoff = 1.0
        while not self.stopping.is_set():
            try:
                if remote.kind == "tcp":
                    _, conn = await loop.create_connection(
                        lambda: Connection(self, str(remote)), remote.host, remote.port)
                else:
                    _, conn = await loop.create_unix_connection(
                        lambda: Connection(self, str(remote)), remote.path)
                backoff = 1.0
                await conn.closed
            except OSError as e:
                log.info("%s: connection attempt failed (%s)", remote, e.strerror or e)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 8.0)

    async def _housekeeping(self) -> None:
        while not self.stopping.is_set():
            await asyncio.sleep(0.5)
            if self.probe_ms > 0:
                now = now_ms()
                for conn in list(self.connections.values()):
                    conn.probe(self.probe_ms, now)
            if self.on_tick is not None:
                self.on_tick()

    async def _unixctl(self, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
        """ovs-appctl's protocol: JSON-RPC requests whose params are strings."""
        decoder = jsonrpc.StreamDecoder(1024 * 1024)
        try:
            while data := await reader.read(65536):
                for msg in decoder.feed(data):
                    if not isinstance(msg, jsonrpc.Request):
                        continue
                    command = self.unixctl_commands.get(msg.method)
                    if msg.method == "list-commands":
                        command = self._list_commands
                    if command is None:
                        # ovs-appctl prints the error text as it is: end it with a newline
                        reply = {"id": msg.id, "result": None,
                                 "error": f'"{msg.method}" is not a valid command (use '
                                          '"list-commands" to see a list of valid '
                                          'commands)\n'}
                    else:
                        try:
                            reply = {"id": msg.id, "result": command(msg.params),
                                     "error": None}
                        except Exception as e:  # noqa: BLE001 - reported to the caller
                            text = str(e)
                            reply = {"id": msg.id, "result": None,
                                     "error": text if text.endswith("\n") else text + "\n"}
                    writer.write(orjson.dumps(reply))
                    await writer.drain()
        except (jsonrpc.FramingError, ConnectionError):
            pass
        finally:
            writer.close()

    def _list_commands(self, params: list[str]) -> str:
        names = sorted({*self.unixctl_commands, "list-commands"})
        return "The available commands are:\n" + "".join(f"  {n}\n" for n in names)

    def _exit_command(self, params: list[str]) -> str:
        asyncio.get_running_loop().call_soon(self.stopping.set)
        return ""

    async def serve_until_stopped(self) -> None:
        await self.start()
        await self.stopping.wait()
        await self.close()

    async def close(self) -> None:
        for srv in self.listeners:
            srv.close()
        for task in self._tasks:
            task.cancel()
        for conn in list(self.connections.values()):
            if conn.transport is not None:
                conn.transport.close()
        for path in self._owned_paths:
            if os.path.exists(path):
                os.unlink(path)
        self._owned_paths.clear()
