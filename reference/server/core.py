"""The server's protocol brain, sans I/O: JSON-RPC methods in, effects out.

``ServerCore`` holds everything that spans connections (the hosted databases, their
monitor engines, the lock table, transactions blocked in ``wait``, re-runs in progress)
and the per-connection ``Session`` state.  The asyncio shell (reference/server/shell.py)
feeds it decoded messages and timer ticks and carries out what it returns:

    Send(session, bytes)          write these bytes to that session
    Delivery(sessions, bytes)     write the same bytes to each of those sessions
    Close(session, reason)        log the reason and drop the connection
    PendingTxn (a Proposal)       propose this change to its database's storage, and
                                  hand it back to ``advance`` once storage has committed
                                  it (or failed to)

The core never changes a database itself: a transaction that changes something becomes
a proposal, and its effects (applying it, monitor updates, the reply, re-running blocked
``wait`` transactions) happen in ``advance``, when the commit comes back.  Standalone
storage commits at once, so the shell advances in the same step; clustered storage will
commit later, with other proposals in flight meanwhile.

Ordering follows ovsdb-server: a transaction's monitor updates are sent to every session
(its own included) before the transact reply; the updates caused by a condition change
go out before the monitor_cond_change reply; a commit that releases blocked transactions
reaches the other sessions merged with the commits the released ones make (the monitor
engine's merge window), before their replies.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from reference.data.errors import OvsdbError, json_text
from reference.data.ovs_hash import ovs_order
from reference.monitor import Delivery
from reference.server import server_database
from reference.server.hosted_database import HostedDatabase
from reference.server.locks import LockTable
from reference.storage.proposal import Proposal
from reference.wire import jsonrpc
from reference.wire.jsonrpc import Notification, Reply, Request

SessionId = int
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
log = logging.getLogger("reference.ovsdb_jsonrpc_server")


# What the core asks the shell to do. Values, never changed once made (not frozen only
# because a frozen dataclass is several times slower to build, one Send per reply).
@dataclass(slots=True)
class Send:
    session: SessionId
    data: bytes


@dataclass(slots=True)
class Close:
    session: SessionId
    reason: str


@dataclass(slots=True, eq=False)
class PendingTxn(Proposal):
    """A transaction whose change is proposed to storage, with what the core needs once
    it comes back: whom to answer (no one for the server's own changes to _Server), the
    operations' results, the re-run window it belongs to, if any, and the operations
    themselves, to run again if storage refused it (``retry``)."""

    session: SessionId | None = None
    request_id: Any = None
    result: Any = None
    window: RerunWindow | None = None
    ops: list | None = None
    started_ms: float = 0.0


Out = Send | Delivery | Close | PendingTxn


def key_of(value: Any) -> bytes:
    """A hashable key for a JSON value used as an id (request ids, monitor ids)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def method_error(params: Any, details: str, error: str = "syntax error") -> dict:
    # ovsdb-server echoes the offending JSON compactly with sorted members.
    return {"syntax": json_text(params), "details": details, "error": error}


@dataclass
class BlockedTxn:
    """A transact whose ``wait`` is not yet satisfied: re-run after every commit."""

    session: SessionId
    request_id: Any
    hosted: HostedDatabase
    ops: list
    started_ms: float
    deadline_ms: float


@dataclass(slots=True, eq=False)
class RerunWindow:
    """The blocked transactions one commit released, re-run one at a time, each against
    the committed result of the one before (so with clustered storage, one re-run in
    flight at a time).  While it is open the database's monitor engine merges the other
    sessions' updates, and what the re-runs produce (monitor updates for sessions the
    window does not hold, replies) waits in ``outs`` until it closes."""

    hosted: HostedDatabase
    queue: list[BlockedTxn]
    now_ms: float
    outs: list[Out] = field(default_factory=list)
    in_flight: bool = False  # a re-run's proposal is with storage


@dataclass
class Session:
    id: SessionId
    change_aware: bool = False
    monitors: dict[bytes, HostedDatabase] = field(default_factory=dict)  # monitor id key -> db
    lock_names: set[str] = field(default_factory=set)


class ServerCore:
    def __init__(self, hosted: list[HostedDatabase],
                 server_id: uuid.UUID | None = None) -> None:
        self.dbs: dict[str, HostedDatabase] = {h.name: h for h in hosted}
        self.server_id = server_id or uuid.uuid4()
        self.sessions: dict[SessionId, Session] = {}
        self.locks = LockTable()
        self.blocked: list[BlockedTxn] = []
        # database name -> transactions held while its storage is busy (clustered: one
        # proposal in flight at a time, as ovsdb-server's prereq precheck), in arrival
        # order; only non-empty queues are kept.
        self.waiting: dict[str, deque[BlockedTxn]] = {}
        self.windows: dict[str, RerunWindow] = {}  # database name -> open re-run window
        self._next_session = 1

    # -- connections -------------------------------------------------------------

    def open_session(self) -> SessionId:
        sid = self._next_session
        self._next_session += 1
        self.sessions[sid] = Session(sid)
        return sid

    def close_session(self, sid: SessionId) -> list[Out]:
        session = self.sessions.pop(sid, None)
        if session is None:
            return []
        self.blocked = [b for b in self.blocked if b.session != sid]
        for name, queue in list(self.waiting.items()):
            kept = deque(b for b in queue if b.session != sid)
            if kept:
                self.waiting[name] = kept
            else:
                del self.waiting[name]
        for window in self.windows.values():
            window.queue = [b for b in window.queue if b.session != sid]
        for hosted in self.dbs.values():
            hosted.monitors.drop_session(sid)
        return self._lock_notices(self.locks.drop_session(sid))

    def set_backlogged(self, sid: SessionId, backlogged: bool) -> list[Out]:
        """The shell says whether ``sid`` has unsent output; while it does, its monitor
        updates are merged instead of queued (and released when it drains)."""
        outs: list[Out] = []
        for hosted in self.dbs.values():
            for data in hosted.monitors.set_backlogged(sid, backlogged):
                outs.append(Send(sid, data))
        return outs

    # -- messages ----------------------------------------------------------------

    def receive(self, sid: SessionId, msg: jsonrpc.Message, now_ms: float) -> list[Out]:
        session = self.sessions[sid]
        if isinstance(msg, Reply):
            # Replies we expect are to our "echo" probes; the shell consumes those.
            return [Close(sid, "received unexpected reply message")]
        if isinstance(msg, Notification):
            if msg.method == "cancel":
                return self._cancel(session, msg.params)
            return []  # ovsdb-server ignores unknown notifications
        handler = self._METHODS.get(msg.method)
        if handler is None:
            return [Send(sid, jsonrpc.encode_error(msg.id, "unknown method"))]
        try:
            return handler(self, session, msg, now_ms)
        except OvsdbError as e:
            return [Send(sid, jsonrpc.encode_error(msg.id, e.to_json()))]
        except Exception as e:  # noqa: BLE001 - a bug of ours must not kill the server
            # Handlers compute before they change anything (execute never mutates the
            # database), so the request failed as a whole: say so and keep serving.
            log.exception("%s request from session %d failed", msg.method, sid)
            return [Send(sid, jsonrpc.encode_error(msg.id, {
                "error": "internal error", "details": f"{type(e).__name__}: {e}"}))]

    def _reply(self, session: Session, request: Request, result: Any) -> list[Out]:
        return [Send(session.id, jsonrpc.encode_reply(request.id, result))]

    def _error(self, session: Session, request: Request, error: Any) -> list[Out]:
        return [Send(session.id, jsonrpc.encode_error(request.id, error))]

    def _db_param(self, request: Request, what: str) -> HostedDatabase:
        params = request.params
        if not params or not isinstance(params[0], str):
            raise MethodError(method_error(
                params, f"{what} request params must begin with <db-name>"))
        hosted = self.dbs.get(params[0])
        if hosted is None:
            raise MethodError(method_error(
                params, f"{what} request specifies unknown database {params[0]}",
                "unknown database"))
        return hosted

    # -- simple methods ------------------------------------------------------------

    def _echo(self, session, request, now_ms):
        return self._reply(session, request, jsonrpc.ovs_reals(request.params))

    def _list_dbs(self, session, request, now_ms):
        # ovsdb-server lists its databases in the order of its hash table of names.
        return self._reply(session, request, ovs_order(self.dbs))

    def _get_schema(self, session, request, now_ms):
        hosted = self._db_param(request, "get_schema")
        return self._reply(session, request, hosted.schema_json)

    def _get_server_id(self, session, request, now_ms):
        return self._reply(session, request, str(self.server_id))

    def _set_db_change_aware(self, session, request, now_ms):
        params = request.params
        if len(params) != 1 or not isinstance(params[0], bool):
            raise MethodError(method_error(
                params, "set_db_change_aware: true or false parameter expected"))
        session.change_aware = params[0]
        return self._reply(session, request, {})

    # -- locks ----------------------------------------------------------------------

    def _lock_name(self, request: Request) -> str:
        params = request.params
        if len(params) != 1 or not isinstance(params[0], str) or not _ID.match(params[0]):
            raise MethodError(method_error(params,
                                           f"{request.method} request params must be <id>"))
        return params[0]

    def _lock(self, session, request, now_ms):
        name = self._lock_name(request)
        if self.locks.has_request(session.id, name):
            raise MethodError(method_error(
                request.params, f'must issue "unlock" before new "{request.method}"'))
        if request.method == "lock":
            locked = self.locks.lock(session.id, name)
            notices = []
        else:
            notices = self.locks.steal(session.id, name)
            locked = True
        session.lock_names.add(name)
        return self._reply(session, request, {"locked": locked}) + self._lock_notices(notices)

    def _unlock(self, session, request, now_ms):
        name = self._lock_name(request)
        if not self.locks.has_request(session.id, name):
            raise MethodError(method_error(
                request.params, 'unlock: "unlock" without "lock" or "steal"'))
        notices = self.locks.unlock(session.id, name)
        session.lock_names.discard(name)
        return self._reply(session, request, {}) + self._lock_notices(notices)

    def _lock_notices(self, notices) -> list[Out]:
        return [Send(sid, jsonrpc.encode_notification(method, [name]))
                for sid, method, name in notices]

    # -- transactions ----------------------------------------------------------------

    def _transact(self, session, request, now_ms):
        hosted = self._db_param(request, "transact")
        if self.blocked or self.waiting:
            rid = key_of(request.id)
            if any(b.session == session.id and key_of(b.request_id) == rid
                   for b in self._held()):
                raise MethodError(method_error(request.params,
                                               "transact: duplicate request ID"))
        if hosted.storage.busy or hosted.name in self.waiting:
            self.waiting.setdefault(hosted.name, deque()).append(BlockedTxn(
                session.id, request.id, hosted, request.params[1:], now_ms, math.inf))
            return []
        return self._run_txn(session.id, request.id, hosted, request.params[1:],
                             now_ms, now_ms)

    def _held(self):
        yield from self.blocked
        for queue in self.waiting.values():
            yield from queue

    def _run_txn(self, sid: SessionId, request_id: Any, hosted: HostedDatabase, ops: list,
                 started_ms: float, now_ms: float,
                 window: RerunWindow | None = None) -> list[Out]:
        """Execute against the committed contents: block, answer, or propose."""
        outcome = hosted.execute(ops, owns_lock=lambda name: self.locks.owns(sid, name),
                                 now_ms=now_ms, started_ms=started_ms)
        if outcome.blocked_until is not None:
            self.blocked.append(BlockedTxn(sid, request_id, hosted, ops, started_ms,
                                           outcome.blocked_until))
            return []
        if outcome.changes is None:
            reply = Send(sid, jsonrpc.encode_reply(request_id, outcome.result))
            if window is not None:
                window.outs.append(reply)
                return []
            return [reply]
        return [PendingTxn(hosted.name, outcome.changes, outcome.durable, None, None, False,
                           sid, request_id, outcome.result, window, ops, started_ms)]

    def advance(self, done: Proposal, now_ms: float) -> list[Out]:
        """Storage has committed ``done`` (or failed to: ``done.error``): apply it, then
        what follows from it (monitor updates, the reply, re-runs of blocked
        transactions, the transactions that waited for storage).  ``now_ms``: the time,
        for the re-runs' ``wait`` timeouts.  ``done`` is one of our PendingTxn, or
        (clustered storage) a change another member committed, or a snapshot."""
        if type(done) is not PendingTxn:
            done = PendingTxn(done.database, done.changes, schema=done.schema)
        if done.retry:
            outs = self._requeue(done)
        else:
            outs = self._advance(done, now_ms)
        if self.waiting or self.windows:
            outs += self.run_waiting(done.database, now_ms, outs)
        return outs

    def _requeue(self, done: PendingTxn) -> list[Out]:
        """Storage refused ``done`` (certainly not committed): it runs again, first in
        line, once storage can take it."""
        hosted = self.dbs[done.database]
        again = BlockedTxn(done.session, done.request_id, hosted, done.ops or [],
                           done.started_ms, math.inf)
        if done.window is not None:
            done.window.queue.insert(0, again)
            done.window.in_flight = False
        else:
            self.waiting.setdefault(hosted.name, deque()).appendleft(again)
        return []

    def run_waiting(self, name: str, now_ms: float, pending: list[Out] = ()) -> list[Out]:
        """Run what waited for the storage of database ``name`` (an open re-run window
        first), until one transaction proposes; nothing while storage is busy or one of
        ``pending`` (outputs not yet carried out) is a proposal to it."""
        hosted = self.dbs[name]
        if hosted.storage.busy or any(type(o) is PendingTxn and o.database == name
                                      for o in pending):
            return []
        outs: list[Out] = []
        window = self.windows.get(name)
        if window is not None:
            if window.in_flight:
                return []
            outs = self._rerun_next(window)
            if any(type(o) is PendingTxn for o in outs):
                return outs
        queue = self.waiting.get(name)
        while queue and not hosted.storage.busy:
            b = queue.popleft()
            proposed = self._run_txn(b.session, b.request_id, hosted, b.ops, b.started_ms,
                                     now_ms)
            outs += proposed
            if proposed and type(proposed[-1]) is PendingTxn:
                break
        if not queue:
            self.waiting.pop(name, None)
        return outs

    def _advance(self, done: PendingTxn, now_ms: float) -> list[Out]:
        hosted = self.dbs[done.database]
        if done.schema is not None:
            return self._converted(hosted, done, now_ms)
        window = done.window
        if done.error is not None:
            # Nothing was applied; say so the way ovsdb-server reports a failed commit:
            # one extra result element carrying the error.
            outs: list[Out] = self._answer(done, list(done.result) + [done.error])
            if window is None:
                return outs
            window.in_flight, window.now_ms = False, now_ms
            window.outs += outs
            return self._rerun_next(window)
        releases = window is None and bool(self.blocked) and \
            any(b.hosted is hosted for b in self.blocked)
        if releases:
            window = self.windows.get(hosted.name)
            if window is None:
                # Every other session gets this commit merged with what the re-runs
                # commit, in one update, before their replies.
                hosted.monitors.open_merge_window(done.session)
        outs = hosted.apply(done)
        outs += self._answer(done, done.result)
        if done.window is not None:
            # A re-run's updates and reply wait for the window to close; the next
            # re-runs run at the time this commit came back.
            window.in_flight, window.now_ms = False, now_ms
            window.outs += outs
            outs = []
        elif not releases:
            return outs
        elif window is None:
            # The committer has had this commit; what the re-runs change reaches it
            # merged, with everyone else's.
            hosted.monitors.widen_merge_window(done.session)
            window = self.windows[hosted.name] = RerunWindow(hosted, [], now_ms)
        # Released in the order they blocked, ahead of the rest of the window's queue:
        # those were released by an earlier commit and are re-run after these.
        if self.blocked:
            released = [b for b in self.blocked if b.hosted is hosted]
            self.blocked = [b for b in self.blocked if b.hosted is not hosted]
            window.queue[:0] = released
        if window.in_flight:  # (clustered storage) the window's next re-run will do
            return outs
        return outs + self._rerun_next(window)

    def _rerun_next(self, window: RerunWindow) -> list[Out]:
        """Re-run the window's queue until one proposes (then wait for its commit); once
        the queue is empty, close the window: the held sessions' merged updates, then
        everything the re-runs produced."""
        hosted = window.hosted
        while window.queue:
            if hosted.storage.busy:
                return []   # (clustered storage) run_waiting goes on once it is free
            b = window.queue.pop(0)
            proposed = self._run_txn(b.session, b.request_id, hosted, b.ops, b.started_ms,
                                     window.now_ms, window)
            if proposed:
                window.in_flight = True
                return proposed
        del self.windows[hosted.name]
        return [*hosted.monitors.close_merge_window(), *window.outs]

    def _answer(self, done: PendingTxn, result: Any) -> list[Out]:
        if done.session is None:
            return []
        return [Send(done.session, jsonrpc.encode_reply(done.request_id, result))]

    def _cancel(self, session: Session, params: list) -> list[Out]:
        if len(params) != 1:
            return []
        target = key_of(params[0])
        outs: list[Out] = []
        for b in [b for b in self._held()
                  if b.session == session.id and key_of(b.request_id) == target]:
            if b in self.blocked:
                self.blocked.remove(b)
            else:
                self.waiting[b.hosted.name].remove(b)
                if not self.waiting[b.hosted.name]:
                    del self.waiting[b.hosted.name]
            # ovsdb-server answers a canceled transaction only on change-aware sessions.
            if session.change_aware:
                outs.append(Send(session.id, jsonrpc.encode_error(b.request_id, "canceled")))
        return outs

    def expire(self, now_ms: float) -> list[Out]:
        """Fail the blocked transactions whose wait timed out."""
        outs: list[Out] = []
        for b in [b for b in self.blocked if b.deadline_ms <= now_ms]:
            self.blocked.remove(b)
            outs += self._run_txn(b.session, b.request_id, b.hosted, b.ops, b.started_ms,
                                  now_ms)
        return outs

    def next_deadline(self) -> float | None:
        if not self.blocked:
            return None
        deadlines = [b.deadline_ms for b in self.blocked if b.deadline_ms != math.inf]
        return min(deadlines) if deadlines else None

    # -- monitors -----------------------------------------------------------------------

    def _monitor(self, session, request, now_ms):
        hosted = self._db_param(request, request.method)
        params = request.params
        # Like ovsdb-server: too few parameters is an error, extra ones are ignored.
        if len(params) < (4 if request.method == "monitor_cond_since" else 3):
            raise MethodError(method_error(params, "invalid parameters"))
        monitor_id = params[1]
        mkey = key_of(monitor_id)
        if mkey in session.monitors:
            raise MethodError(method_error(monitor_id, "duplicate monitor ID"))
        requests = params[2]
        last_txn_id = params[3] if len(params) > 3 else None
        reply = hosted.monitors.add(session.id, monitor_id, request.method, requests,
                                    last_txn_id)
        session.monitors[mkey] = hosted
        return self._reply(session, request, reply)

    def _monitor_cond_change(self, session, request, now_ms):
        params = request.params
        if len(params) != 3:
            raise MethodError(method_error(params, "invalid parameters"))
        old_id, new_id, requests = params
        old_key, new_key = key_of(old_id), key_of(new_id)
        hosted = session.monitors.get(old_key)
        if hosted is None:
            raise MethodError(method_error(old_id, "unknown monitor session"))
        if new_key != old_key and new_key in session.monitors:
            raise MethodError(method_error(new_id, "duplicate monitor ID"))
        before = hosted.monitors.change_condition(session.id, old_id, new_id, requests)
        del session.monitors[old_key]
        session.monitors[new_key] = hosted
        return [Send(session.id, data) for data in before] + self._reply(session, request, {})

    def _monitor_cancel(self, session, request, now_ms):
        params = request.params
        if len(params) != 1:
            return self._error(session, request, "invalid parameters")
        hosted = session.monitors.pop(key_of(params[0]), None)
        if hosted is None:
            return self._error(session, request, "unknown monitor")
        hosted.monitors.cancel(session.id, params[0])
        return self._reply(session, request, {})

    # -- online schema conversion ---------------------------------------------------------

    def _convert(self, session, request, now_ms):
        hosted = self._db_param(request, "convert")
        if len(request.params) != 2 or not isinstance(request.params[1], dict):
            raise MethodError(method_error(request.params, "array expected"))
        # OvsdbError -> error reply, nothing changed
        schema, changes = hosted.conversion(request.params[1])
        return [PendingTxn(hosted.name, changes, True, schema, session=session.id,
                           request_id=request.id)]

    def _converted(self, hosted: HostedDatabase, done: PendingTxn, now_ms: float) -> list[Out]:
        if done.error is not None:
            return [Send(done.session, jsonrpc.encode_error(done.request_id, done.error))]
        hosted.apply(done)
        outs = self._answer(done, {})
        outs += self._publish_schema(hosted, now_ms)
        # As ovsdb-server: change-aware sessions lose their monitors on this database
        # with monitor_canceled; every other session is disconnected.
        for other in list(self.sessions.values()):
            if not other.change_aware:
                outs.append(Close(other.id, f"disconnecting (committed {hosted.name} "
                                            "database schema conversion)"))
                continue
            for mkey, monitored in list(other.monitors.items()):
                if monitored is hosted:
                    del other.monitors[mkey]
                    outs.append(Send(other.id, jsonrpc.encode_notification(
                        "monitor_canceled", [orjson.loads(mkey)])))
        return outs

    def _publish_schema(self, hosted: HostedDatabase, now_ms: float) -> list[Out]:
        """Propose the update of _Server's Database row for ``hosted`` after a conversion."""
        server = self.dbs.get(server_database.NAME)
        if server is None:
            return []
        changes = server_database.schema_update(server, hosted, now_ms)
        if changes is None:
            return []
        return [PendingTxn(server.name, changes)]

    def publish_status(self, name: str, status: dict[str, Any], now_ms: float) -> list[Out]:
        """Propose the update of _Server's Database row for clustered database ``name``."""
        server = self.dbs.get(server_database.NAME)
        if server is None:
            return []
        changes = server_database.status_update(server, name, status, now_ms)
        if changes is None:
            return []
        return [PendingTxn(server.name, changes)]

    _METHODS: dict[str, Callable] = {}


class MethodError(Exception):
    """A request-level error: the reply's "error" member is ``error``."""

    def __init__(self, error: Any) -> None:
        super().__init__(error)
        self.error = error


def _guard(handler):
    def run(core: ServerCore, session: Session, request: Request, now_ms: float):
        try:
            return handler(core, session, request, now_ms)
        except MethodError as e:
            return core._error(session, request, e.error)
    return run


ServerCore._METHODS = {name: _guard(fn) for name, fn in {
    "echo": ServerCore._echo,
    "list_dbs": ServerCore._list_dbs,
    "get_schema": ServerCore._get_schema,
    "get_server_id": ServerCore._get_server_id,
    "set_db_change_aware": ServerCore._set_db_change_aware,
    "lock": ServerCore._lock,
    "steal": ServerCore._lock,
    "unlock": ServerCore._unlock,
    "transact": ServerCore._transact,
    "monitor": ServerCore._monitor,
    "monitor_cond": ServerCore._monitor,
    "monitor_cond_since": ServerCore._monitor,
    "monitor_cond_change": ServerCore._monitor_cond_change,
    "monitor_cancel": ServerCore._monitor_cancel,
    "convert": ServerCore._convert,
}.items()}
