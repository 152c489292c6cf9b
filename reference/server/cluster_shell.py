"""The asyncio shell of one clustered database: its Raft member's sockets, timers and file.

``ClusterShell`` runs a ``ClusterMember`` (cluster_member.py) beside the client-facing
``ServerShell``:

- it listens on the member's own address and dials every other server (or, joining,
  every remote), says hello_request on the connections it makes, answers echo probes and
  learns an incoming connection's sid from its first message, as raft.c does;
- it turns time into ``tick``s, received messages into ``step``s, and a completed fsync
  into ``persisted``;
- after each input it drains the node (``pump``): records are written at once and
  fsynced once per turn of the event loop (a group commit: every record written in
  that turn shares the fsync), messages are sent, and what was decided goes to the core
  (``advance``) in log order, whose effects the server shell carries out;
- it keeps the ``_Server`` row of the database current (leader, connected, index) and
  serves ``ovs-appctl cluster/*`` in ovsdb-server's words.

Messages a member cannot parse, from a stranger or another cluster, are logged and
dropped (the node decides); a write error stops the member acknowledging anything more,
so nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from reference.raft import messages
from reference.raft.progress import LEADER
from reference.raft.ready import Ready, Send
from reference.server.cluster_member import ClusterMember
from reference.storage.log_file import StorageError
from reference.wire import jsonrpc

if TYPE_CHECKING:
    from reference.server.core import ServerCore

log = logging.getLogger("reference.raft")

TICK_S = 0.01
MAX_RAFT_MESSAGE = 64 * 1024 * 1024   # a snapshot of a large database is one message


class PeerConnection(asyncio.Protocol):
    """A connection to another member, made by us (``address`` set) or accepted."""

    def __init__(self, shell: ClusterShell, address: str | None) -> None:
        self.shell = shell
        self.address = address
        self.sid: str | None = None
        self.decoder = jsonrpc.StreamDecoder(MAX_RAFT_MESSAGE)
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        self.last_input = time.monotonic()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.shell.connections.append(self)
        if self.address is not None:
            # We dialled a configured server's address: that is whom we talk to.
            self.sid = next((s for s, a in self.shell.node.servers.items()
                             if a == self.address), None)
            self.shell.hello(self)

    def data_received(self, data: bytes) -> None:
        self.last_input = time.monotonic()
        try:
            msgs = self.decoder.feed(data)
        except jsonrpc.FramingError as e:
            msgs = e.messages
            log.warning("%s: %s; dropping connection", self.name, e)
            if self.transport is not None:
                self.transport.close()
        for msg in msgs:
            self.shell.received(self, msg)

    def connection_lost(self, exc) -> None:
        self.transport = None
        if self in self.shell.connections:
            self.shell.connections.remove(self)
            self.shell.disconnections += 1
            self.shell.peer_lost(self.sid)
        if not self.closed.done():
            self.closed.set_result(None)

    def write(self, obj: dict) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(orjson.dumps(obj))

    @property
    def name(self) -> str:
        return self.address or f"incoming from {self.sid[:4] if self.sid else '?'}"


class ClusterShell:
    def __init__(self, member: ClusterMember, core: "ServerCore",
                 dispatch: Callable[[list], None], trace: Callable[[dict], None] | None = None,
                 ) -> None:
        self.member = member
        self.node = member.node
        self.storage = member.storage
        self.hosted = member.hosted
        self.core = core
        self.dispatch = dispatch          # the server shell carries out the core's effects
        self.trace = trace
        self.connections: list[PeerConnection] = []
        self.disconnections = 0
        self.dialing: dict[str, asyncio.Task] = {}
        self.listener: asyncio.AbstractServer | None = None
        self.ticker: asyncio.TimerHandle | None = None
        self._pump_scheduled = False
        self._unsynced_seq = 0            # last PersistOp written but not yet fsynced
        self._sync_scheduled = False
        self.failed: str | None = None    # a write failed: nothing more is acknowledged
        self._published: dict[str, Any] | None = None
        self.storage.on_propose = self.schedule_pump

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        host, port = _host_port(self.node.address)
        loop = asyncio.get_running_loop()
        self.listener = await loop.create_server(lambda: PeerConnection(self, None),
                                                 host, port, reuse_address=True)
        log.info("%s: listening for Raft connections on %s", self.hosted.name,
                 self.node.address)
        self.ticker = loop.call_soon(self._tick)

    async def stop(self, transfer: bool = True) -> None:
        """Stop; a leader first hands leadership to its most caught-up follower (a
        planned restart should not cost an election)."""
        if transfer and self.node.role == LEADER and len(self.node.servers) > 1:
            self.node.transfer_leadership()
            self.pump()
            await asyncio.sleep(0.05)   # let become_leader leave the socket
        if self.ticker is not None:
            self.ticker.cancel()
        for task in self.dialing.values():
            task.cancel()
        if self.listener is not None:
            self.listener.close()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.close()
        self._sync()
        self.member.file.close()

    # -- inputs ---------------------------------------------------------------------------

    def _tick(self) -> None:
        self.node.tick(int(time.monotonic() * 1000))
        self._keep_connections()
        self.pump()
        self.ticker = asyncio.get_running_loop().call_later(TICK_S, self._tick)

    def received(self, conn: PeerConnection, msg: jsonrpc.Message) -> None:
        if isinstance(msg, jsonrpc.Request):
            if msg.method == "echo":
                conn.write({"id": msg.id, "result": msg.params, "error": None})
            return
        if not isinstance(msg, jsonrpc.Notification):
            return   # replies to our own echo probes
        try:
            parsed = messages.parse_message(msg.method, msg.params)
        except messages.RaftParseError as e:
            log.warning("%s: dropped a bad Raft message: %s", conn.name, e)
            return
        if conn.sid is None:
            conn.sid = parsed.sender
        if isinstance(parsed, messages.HelloRequest):
            return
        self.node.step(parsed)
        self.pump()

    def peer_lost(self, sid: str | None) -> None:
        """With no connection left to our leader, it is likely dead: say so to the
        node, which then stands sooner (a SIGKILLed leader costs less than a whole
        election timeout)."""
        if sid is not None and sid == self.node.leader_sid and not any(
                c.sid == sid for c in self.connections):
            self.node.leader_disconnected()

    def schedule_pump(self) -> None:
        if not self._pump_scheduled:
            self._pump_scheduled = True
            asyncio.get_running_loop().call_soon(self._scheduled_pump)

    def _scheduled_pump(self) -> None:
        self._pump_scheduled = False
        self.pump()

    # -- the node's output ------------------------------------------------------------------

    def pump(self) -> None:
        """Carry out the node's Ready batches until it has nothing more to say."""
        now = time.monotonic() * 1000.0
        while True:
            ready = self.node.ready()
            if ready.empty():
                break
            self._persist(ready)
            for send in ready.messages:
                self._send(send)
            for decided in self.storage.decisions(ready, lambda: self.hosted.db):
                self.dispatch(self.core.advance(decided, now))
            self._observe(ready)
        if self.core.waiting.get(self.hosted.name) or self.hosted.name in self.core.windows:
            self.dispatch(self.core.run_waiting(self.hosted.name, now))
        self._publish_status(now)

    def _persist(self, ready: Ready) -> None:
        if not ready.persist or self.failed:
            return
        try:
            for op in ready.persist:
                if op.rewrite:
                    self.member.file.rewrite_records(op.records)
                    self.node.persisted(op.seq)   # a rewrite is durable when it returns
                else:
                    self.member.file.write_records(op.records)
                    self._unsynced_seq = op.seq
        except (StorageError, OSError) as e:
            self.failed = str(e)
            log.error("%s: writing the log failed, no longer acknowledging anything: %s",
                      self.member.path, e)
            return
        if self._unsynced_seq and not self._sync_scheduled:
            self._sync_scheduled = True
            asyncio.get_running_loop().call_soon(self._sync_and_pump)

    def _sync_and_pump(self) -> None:
        self._sync()
        self.pump()

    def _sync(self) -> None:
        self._sync_scheduled = False
        if not self._unsynced_seq or self.failed:
            return
        seq, self._unsynced_seq = self._unsynced_seq, 0
        try:
            self.member.file.commit()
        except OSError as e:
            self.failed = str(e)
            log.error("%s: fsync failed, no longer acknowledging anything: %s",
                      self.member.path, e)
            return
        self.node.persisted(seq)

    def _observe(self, ready: Ready) -> None:
        self.storage.observe(ready.events)
        for ev in ready.events:
            if ev["action"] == "BecomeLeader":
                log.info("term %d: elected leader", ev["term"])
            if self.trace is not None:
                self.trace(ev)
        for d in ready.dropped:
            log.info("dropped %s from %s: %s", d["msg"], d["sender"][:4], d["why"])

    def _publish_status(self, now: float) -> None:
        status = self.member.status()
        if status != self._published:
            self._published = status
            self.dispatch(self.core.publish_status(self.hosted.name, status, now))

    # -- connections ------------------------------------------------------------------------

    def _wanted_addresses(self) -> set[str]:
        node = self.node
        if node.left:
            return set()
        wanted = {a for s, a in node.servers.items() if s != node.sid}
        if node.joining:
            wanted |= set(node.remote_addresses)
        return wanted - {node.address}

    def _keep_connections(self) -> None:
        wanted = self._wanted_addresses()
        for address in wanted:
            task = self.dialing.get(address)
            if task is None or task.done():
                self.dialing[address] = asyncio.get_running_loop().create_task(
                    self._dial(address))
        for address in [a for a in self.dialing if a not in wanted]:
            self.dialing.pop(address).cancel()

    async def _dial(self, address: str) -> None:
        """Keep one connection of ours to ``address``; reconnect after a short pause."""
        host, port = _host_port(address)
        loop = asyncio.get_running_loop()
        while True:
            try:
                _, conn = await loop.create_connection(
                    lambda: PeerConnection(self, address), host, port)
            except OSError:
                pass
            else:
                try:
                    await conn.closed
                finally:
                    # Cancelled (the address is no longer wanted, e.g. a join remote
                    # not yet in the configuration): close it, or it lingers beside
                    # the connection dialled when the address is wanted again.
                    if conn.transport is not None:
                        conn.transport.close()
            await asyncio.sleep(min(1.0, self.node.election_timer / 1000 / 2))

    def hello(self, conn: PeerConnection) -> None:
        node = self.node
        if node.sid in node.servers and node.cid is not None:
            self._write(conn, messages.HelloRequest(sender=node.sid, to=None, cluster=node.cid,
                                                    address=node.address))

    def _send(self, send: Send) -> None:
        conn = None
        to = send.message.to
        if to is not None:
            address = self.node.servers.get(to)
            conn = (self._by_address(address) if address else None) or next(
                (c for c in self.connections if c.sid == to), None)
        if conn is None and send.address is not None:
            conn = self._by_address(send.address)
        if conn is not None:
            self._write(conn, send.message)
        # else: no connection now; Raft sends again (heartbeats, retries)

    def _by_address(self, address: str) -> PeerConnection | None:
        return next((c for c in self.connections if c.address == address), None)

    @staticmethod
    def _write(conn: PeerConnection, msg: messages.Message) -> None:
        method, params = messages.message_to_json(msg)
        conn.write({"method": method, "params": params, "id": None})


def _host_port(address: str) -> tuple[str, int]:
    kind, _, rest = address.partition(":")
    if kind != "tcp":
        raise StorageError(f"{address}: only tcp: Raft addresses are supported")
    host, _, port = rest.rpartition(":")
    return host.strip("[]"), int(port)
