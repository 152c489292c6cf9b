"""OVS 3.1's Raft messages, parsed strictly and serialised to exactly the keys OVS sends.

Every Raft message is a JSON-RPC notification ``{"method": NAME, "params": [ARGS]}``.
ARGS always holds ``from`` (the sender's sid); ``to`` (the receiver's sid) except in
hello_request and add_server_request; ``cluster`` (the cid) except in
add_server_request, and omitted by a sender that does not know the cid yet; optional
``comment``.  The rest of ARGS is per message, as ``ovsdb/raft-rpc.c`` writes it.

Parsing follows ovsdb-server 3.1: an unknown member, a missing required member or a
member of the wrong type is a ``RaftParseError`` (the caller logs it and drops the
message); nothing is ever half-parsed.  ``is_prevote`` is parsed (3.3 sends it) but is
only ever written when the message says so, and a node sends it only with pre-vote
switched on: 3.1 refuses any message with an unknown member.

Public API:
    parse_message(method, params) -> Message     raises RaftParseError
    message_to_json(msg) -> (method, params)     params = [ARGS]
    entry_from_json(obj, index), entry_to_json(e)   a log entry on the wire
    (AppendRequest.log holds reference.storage.cluster_records.Entry values)
    the message dataclasses, one per method (METHOD names the JSON-RPC method)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar
from uuid import UUID

from reference.storage.cluster_records import Entry, record_to_json

UINT64 = 1 << 64


class RaftParseError(ValueError):
    """A Raft message or entry that OVS 3.1 would refuse."""


# --- JSON member helpers -------------------------------------------------------------


def _uint(v: Any, name: str) -> int:
    # OVS writes uint64 values >= 2^63 as negative int64.
    if isinstance(v, bool) or not isinstance(v, int):
        raise RaftParseError(f"{name} is not an integer")
    if v < 0:
        v += UINT64
    if not 0 <= v < UINT64:
        raise RaftParseError(f"{name} is out of range")
    return v


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}\Z")


def _uuid(v: Any, name: str) -> str:
    if not isinstance(v, str) or not _UUID.match(v):
        raise RaftParseError(f"{name} is not a UUID: {v!r}")
    return v.lower()


def _str(v: Any, name: str) -> str:
    if not isinstance(v, str):
        raise RaftParseError(f"{name} is not a string")
    return v


def _bool(v: Any, name: str) -> bool:
    if not isinstance(v, bool):
        raise RaftParseError(f"{name} is not a boolean")
    return v


def _servers(v: Any, name: str) -> dict[str, str]:
    """{sid: address}, non-empty, as raft_servers_validate_json wants it."""
    if not isinstance(v, dict) or not v:
        raise RaftParseError(f"{name} is not a non-empty object of sid: address")
    return {_uuid(k, f"{name} key"): _str(a, f"{name}[{k}]") for k, a in v.items()}


def _data(v: Any, name: str) -> Any:
    # Entry data is opaque here ([schema|null, txn|null] to the server); OVS accepts an
    # object or an array.
    if not isinstance(v, (list, dict)):
        raise RaftParseError(f"{name} is not an array or object")
    return v


def _addresses(v: Any, name: str) -> tuple[str, ...]:
    if not isinstance(v, list):
        raise RaftParseError(f"{name} is not an array")
    return tuple(_str(a, name) for a in v)


class _Members:
    """Reads an object's members once each; ``finish`` refuses what was not read."""

    def __init__(self, obj: Any, what: str) -> None:
        if not isinstance(obj, dict):
            raise RaftParseError(f"{what} is not an object")
        self.obj = obj
        self.what = what
        self.seen: set[str] = set()

    def get(self, key: str, conv: Any, required: bool = True) -> Any:
        self.seen.add(key)
        if key not in self.obj:
            if required:
                raise RaftParseError(f"{self.what}: missing member {key!r}")
            return None
        return conv(self.obj[key], f"{self.what} {key}")

    def finish(self) -> None:
        unknown = set(self.obj) - self.seen
        if unknown:
            raise RaftParseError(f"{self.what}: unknown member(s) {sorted(unknown)}")


# --- log entries --------------------------------------------------------------------
# One Entry type for the log, the file and the wire: the storage layer's.  An
# append_request carries the file's entry record without its index (the index follows
# from prev_log_index), so only that difference, and the RaftParseError wording, live here.


def entry_from_json(obj: Any, index: int, what: str = "raft log entry") -> Entry:
    """The entry at ``index`` from its wire JSON (term, optional data+eid, servers,
    election_timer); anything else, an index included, is refused."""
    m = _Members(obj, what)
    term = m.get("term", _uint)
    data = m.get("data", _data, required=False)
    eid = m.get("eid", _uuid, required=data is not None)
    if data is None and eid is not None:
        raise RaftParseError(f"{what}: eid without data")
    servers = m.get("servers", _servers, required=False)
    timer = m.get("election_timer", _uint, required=False) or 0
    m.finish()
    return Entry(term, index, data, UUID(eid) if eid is not None else None, servers, timer)


def entry_to_json(entry: Entry) -> dict[str, Any]:
    """The entry as append_request carries it: the file's record minus index (and minus
    a comment, which only file records have)."""
    out = record_to_json(entry)
    del out["index"]
    out.pop("comment", None)
    return out


def _entries(v: Any, name: str) -> list[Any]:
    # Checked here, parsed in parse_message once prev_log_index is known.
    if not isinstance(v, list):
        raise RaftParseError(f"{name} is not an array")
    return v


# --- messages ------------------------------------------------------------------------

# Per field: (JSON key, converter, required).  Optional fields are written only when
# set (not None / not False), which is what OVS does for each of them.
_Spec = tuple[tuple[str, Any, bool], ...]


@dataclass(frozen=True)
class Message:
    """Common part.  ``to`` is None in hello_request/add_server_request; ``cluster`` is
    None when the sender does not know the cid (and always in add_server_request)."""

    METHOD: ClassVar[str] = ""
    FIELDS: ClassVar[_Spec] = ()
    HAS_TO: ClassVar[bool] = True
    HAS_CLUSTER: ClassVar[bool] = True

    sender: str
    to: str | None
    cluster: str | None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, conv, required in self.FIELDS:
            v = getattr(self, key)
            if v is None or (not required and v is False):
                continue
            if conv is _entries:
                v = [entry_to_json(e) for e in v]
            elif conv is _addresses:
                v = list(v)
            out[key] = v
        return out


def _msg(method: str, spec: _Spec, has_to: bool = True, has_cluster: bool = True):
    def wrap(cls):
        cls.METHOD = method
        cls.FIELDS = spec
        cls.HAS_TO = has_to
        cls.HAS_CLUSTER = has_cluster
        return dataclass(frozen=True)(cls)
    return wrap


@_msg("hello_request", (("address", _str, True),), has_to=False)
class HelloRequest(Message):
    address: str = ""
    comment: str | None = None


@_msg("append_request", (("term", _uint, True), ("prev_log_index", _uint, True),
                         ("prev_log_term", _uint, True), ("leader_commit", _uint, True),
                         ("log", _entries, True)))
class AppendRequest(Message):
    term: int = 0
    prev_log_index: int = 0
    prev_log_term: int = 0
    leader_commit: int = 0
    log: tuple[Entry, ...] = ()
    comment: str | None = None


APPEND_RESULTS = ("OK", "inconsistency", "I/O error")


def _append_result(v: Any, name: str) -> str:
    if v not in APPEND_RESULTS:
        raise RaftParseError(f"{name}: unknown result {v!r}")
    return v


@_msg("append_reply", (("term", _uint, True), ("log_end", _uint, True),
                       ("prev_log_index", _uint, True), ("prev_log_term", _uint, True),
                       ("n_entries", _uint, True), ("result", _append_result, True)))
class AppendReply(Message):
    term: int = 0
    log_end: int = 0
    prev_log_index: int = 0
    prev_log_term: int = 0
    n_entries: int = 0
    result: str = "OK"
    comment: str | None = None


@_msg("vote_request", (("term", _uint, True), ("last_log_index", _uint, True),
                       ("last_log_term", _uint, True), ("leadership_transfer", _bool, False),
                       ("is_prevote", _bool, False)))
class VoteRequest(Message):
    term: int = 0
    last_log_index: int = 0
    last_log_term: int = 0
    leadership_transfer: bool = False
    is_prevote: bool = False
    comment: str | None = None


@_msg("vote_reply", (("term", _uint, True), ("vote", _uuid, True),
                     ("is_prevote", _bool, False)))
class VoteReply(Message):
    term: int = 0
    vote: str = ""
    is_prevote: bool = False
    comment: str | None = None


@_msg("add_server_request", (("address", _str, True),), has_to=False, has_cluster=False)
class AddServerRequest(Message):
    address: str = ""
    comment: str | None = None


@_msg("add_server_reply", (("success", _bool, True), ("remote_addresses", _addresses, False)))
class AddServerReply(Message):
    success: bool = False
    remote_addresses: tuple[str, ...] | None = None
    comment: str | None = None


@_msg("remove_server_request", (("server_id", _uuid, True),))
class RemoveServerRequest(Message):
    server_id: str = ""
    comment: str | None = None


@_msg("remove_server_reply", (("success", _bool, True), ("target_server", _uuid, False)))
class RemoveServerReply(Message):
    success: bool = False
    target_server: str | None = None
    comment: str | None = None


@_msg("install_snapshot_request", (("term", _uint, True), ("last_index", _uint, True),
                                   ("last_term", _uint, True), ("last_eid", _uuid, True),
                                   ("last_servers", _servers, True),
                                   ("election_timer", _uint, True), ("data", _data, True)))
class InstallSnapshotRequest(Message):
    term: int = 0
    last_index: int = 0
    last_term: int = 0
    last_eid: str = ""
    last_servers: dict[str, str] = field(default_factory=dict)
    election_timer: int = 0
    data: Any = None
    comment: str | None = None


@_msg("install_snapshot_reply", (("term", _uint, True), ("last_index", _uint, True),
                                 ("last_term", _uint, True)))
class InstallSnapshotReply(Message):
    term: int = 0
    last_index: int = 0
    last_term: int = 0
    comment: str | None = None


@_msg("become_leader", (("term", _uint, True),))
class BecomeLeader(Message):
    term: int = 0
    comment: str | None = None


@_msg("execute_command_request", (("data", _data, True), ("prereq", _uuid, True),
                                  ("result", _uuid, True)))
class ExecuteCommandRequest(Message):
    data: Any = None
    prereq: str = ""
    result: str = ""
    comment: str | None = None


COMMAND_STATUSES = ("operation still in progress", "success", "not leader",
                    "prerequisite check failed", "lost leadership", "server shutdown",
                    "I/O error", "timeout")


def _status(v: Any, name: str) -> str:
    if v not in COMMAND_STATUSES:
        raise RaftParseError(f"{name}: unknown status {v!r}")
    return v


@_msg("execute_command_reply", (("result", _uuid, True), ("status", _status, True),
                                ("commit_index", _uint, False)))
class ExecuteCommandReply(Message):
    result: str = ""
    status: str = ""
    commit_index: int | None = None
    comment: str | None = None


MESSAGE_TYPES: dict[str, type[Message]] = {cls.METHOD: cls for cls in (
    HelloRequest, AppendRequest, AppendReply, VoteRequest, VoteReply, AddServerRequest,
    AddServerReply, RemoveServerRequest, RemoveServerReply, InstallSnapshotRequest,
    InstallSnapshotReply, BecomeLeader, ExecuteCommandRequest, ExecuteCommandReply)}


def parse_message(method: str, params: Any) -> Message:
    """The message a JSON-RPC notification carries, or RaftParseError."""
    cls = MESSAGE_TYPES.get(method) if isinstance(method, str) else None
    if cls is None:
        raise RaftParseError(f"unknown method {method!r}")
    if not isinstance(params, list) or len(params) != 1:
        raise RaftParseError(f"{method} RPC: params must be an array of one object")
    m = _Members(params[0], f"raft {method} RPC")
    cluster = m.get("cluster", _uuid, required=cls.HAS_CLUSTER)
    to = m.get("to", _uuid, required=cls.HAS_TO)
    sender = m.get("from", _uuid)
    comment = m.get("comment", _str, required=False)
    values = {key: m.get(key, conv, required) for key, conv, required in cls.FIELDS}
    m.finish()
    if cls is AppendRequest:
        first = values["prev_log_index"] + 1
        if first + len(values["log"]) > UINT64:
            raise RaftParseError(f"{method} RPC: log entry index beyond uint64")
        values["log"] = tuple(entry_from_json(obj, first + i, f"raft {method} RPC log entry")
                              for i, obj in enumerate(values["log"]))
    for key, _conv, required in cls.FIELDS:
        if not required and values[key] is None and key in ("leadership_transfer",
                                                             "is_prevote"):
            values[key] = False
    return cls(sender=sender, to=to, cluster=cluster, comment=comment, **values)


def message_to_json(msg: Message) -> tuple[str, list[dict[str, Any]]]:
    """(method, params) of the notification, with exactly the members OVS writes."""
    args: dict[str, Any] = {}
    if msg.cluster is not None:
        args["cluster"] = msg.cluster
    if msg.to is not None:
        args["to"] = msg.to
    args["from"] = msg.sender
    comment = getattr(msg, "comment", None)
    if comment is not None:
        args["comment"] = comment
    args.update(msg.body())
    return msg.METHOD, [args]


def message_fields(msg: Message) -> dict[str, Any]:
    """The dataclass fields as a dict (for traces and tests)."""
    return {f.name: getattr(msg, f.name) for f in fields(msg)}
