"""The records of OVS 3.1's clustered database file, as values, with OVS's strict parsing.

A clustered file (``OVSDB CLUSTER`` framing, see ``reference.storage.log_file``) holds a
header record and then a sequence of Raft records.  This module turns one record's JSON
object into a value and back, refusing exactly what ``raft_header_from_json`` and
``raft_record_from_json`` (ovsdb/raft-private.c) refuse: a missing required member, a
member of the wrong JSON type, an invalid UUID or address, and any member the record
type does not use ("Member 'x' is present but not allowed here.").  Any record may
carry a ``comment``.

Integers are uint64: OVS's JSON holds only int64, so values >= 2^63 are written
negative and read back modulo 2^64 (``u64_to_json``/``u64_from_json``).

Which record type an object is follows OVS's order of tests: ``note``, then a non-zero
``commit_index``, then (with a required ``term``) ``leader``, ``vote``, a non-zero
``index`` (an entry), and otherwise a bare term record.

    parse_header(obj) -> ClusterHeader      header_to_json(h) -> dict
    parse_record(obj) -> Record             record_to_json(r) -> dict

Raises ``ClusterFormatError`` (a ``StorageError``) with OVS's wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from reference.storage.log_file import StorageError

U64 = 1 << 64
_I64_MIN, _I64_LIMIT = -(1 << 63), 1 << 63
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                      r"[0-9a-fA-F]{12}")
ZERO_UUID = UUID(int=0)


class ClusterFormatError(StorageError):
    """A clustered file's record breaks OVS's format or its replay rules."""


def u64_to_json(n: int) -> int:
    """A uint64 as OVS writes it (values >= 2^63 negative)."""
    if not 0 <= n < U64:
        raise ValueError(f"{n} is not a uint64")
    return n - U64 if n >= _I64_LIMIT else n


def u64_from_json(v: int) -> int:
    return v % U64


def is_uuid(s: object) -> bool:
    return isinstance(s, str) and _UUID_RE.fullmatch(s) is not None


# ---------------------------------------------------------------------------
# Addresses (raft_address_validate)
# ---------------------------------------------------------------------------

_HOST_PORT_RE = re.compile(r"(\[[^\]]+\]|[^:\[\]]+):([0-9]{1,5})")


def address_problem(address: str) -> str | None:
    """Why `address` is not a Raft server address (OVS's wording), or None.

    ``unix:PATH`` is taken as is; ``tcp:``/``ssl:`` need HOST:PORT (an IPv6 host in
    brackets).  A host name that may not resolve is accepted, as OVS does."""
    if address.startswith("unix:"):
        return None
    if address.startswith(("tcp:", "ssl:")):
        m = _HOST_PORT_RE.fullmatch(address[4:])
        if m is None or int(m.group(2)) > 65535:
            return f"{address}: syntax error in address"
        return None
    return f'{address}: expected "tcp" or "ssl" address'


# ---------------------------------------------------------------------------
# A parser with ovsdb_parser's rules: first error wins, unused members refused
# ---------------------------------------------------------------------------

_TYPES: dict[str, Any] = {
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
    "string": lambda v: type(v) is str,
    "integer": lambda v: type(v) is int and _I64_MIN <= v < _I64_LIMIT,
    "any": lambda v: True,
}


class _Parser:
    def __init__(self, obj: object, what: str) -> None:
        self.what = what
        self.obj: dict = obj if isinstance(obj, dict) else {}
        self.used: set[str] = set()
        self.error: str | None = None
        if not isinstance(obj, dict):
            self.fail("Object expected.")

    def fail(self, message: str) -> None:
        if self.error is None:
            self.error = f"Parsing {self.what} failed: {message}"

    def put_error(self, message: str | None) -> None:
        if message is not None and self.error is None:
            self.error = message

    def member(self, name: str, types: tuple[str, ...], optional: bool) -> Any:
        if name not in self.obj:
            if not optional:
                self.fail(f"Required '{name}' member is missing.")
            return None
        value = self.obj[name]
        if any(_TYPES[t](value) for t in types):
            self.used.add(name)
            return value
        self.fail(f"Type mismatch for member '{name}'.")
        return None

    def u64(self, name: str, optional: bool = False) -> int:
        v = self.member(name, ("integer",), optional)
        return 0 if v is None else u64_from_json(v)

    def string(self, name: str, optional: bool = False) -> str | None:
        return self.member(name, ("string",), optional)

    def uuid(self, name: str, optional: bool = False) -> UUID | None:
        s = self.string(name, optional)
        if s is None:
            return None
        if not is_uuid(s):
            self.fail(f"{name} is not a valid UUID")
            return None
        return UUID(s)

    def finish(self) -> None:
        if self.error is None:
            unused = [k for k in self.obj if k not in self.used]
            if len(unused) == 1:
                self.fail(f"Member '{unused[0]}' is present but not allowed here.")
            elif unused:
                n = len(unused) - 1
                self.fail(f"Member '{unused[0]}' and {n} other member{'s' if n > 1 else ''} "
                          f"are present but not allowed here.")
        if self.error is not None:
            raise ClusterFormatError(f"syntax error: {self.error}")


def servers_problem(servers: object) -> str | None:
    """Why `servers` is not a {sid: address} object (raft_servers_validate_json)."""
    if not isinstance(servers, dict):
        return "syntax error: servers must be JSON object"
    if not servers:
        return "syntax error: must have at least one server"
    for sid, address in servers.items():
        if not is_uuid(sid):
            return f"syntax error: {sid} is not a UUID"
        if not isinstance(address, str):
            return "syntax error: server address is not string"
        problem = address_problem(address)
        if problem:
            return problem
    return None


# ---------------------------------------------------------------------------
# The header
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ClusterHeader:
    """Record 0.  A member's header has `prev_servers` and (usually) a snapshot in the
    `prev_*` fields; a server made by join-cluster that has not joined yet has
    `remote_addresses` instead and maybe no cluster id."""

    sid: UUID
    name: str
    local_address: str
    cid: UUID | None = None
    remote_addresses: tuple[str, ...] | None = None
    prev_servers: dict[str, str] | None = None
    prev_index: int = 0
    prev_term: int = 0
    prev_eid: UUID | None = None
    prev_data: Any = None
    prev_election_timer: int = 0

    @property
    def joining(self) -> bool:
        return self.remote_addresses is not None


def parse_header(obj: object) -> ClusterHeader:
    p = _Parser(obj, "raft header")
    sid = p.uuid("server_id")
    name = p.string("name")
    local = p.string("local_address")
    remotes_json = p.member("remote_addresses", ("array",), optional=True)
    remotes: tuple[str, ...] | None = None
    servers = None
    prev_index = prev_term = timer = 0
    prev_eid = None
    prev_data = None
    if remotes_json is not None:
        if not remotes_json:
            p.put_error("syntax error: at least one remote address is required")
        for a in remotes_json:
            if not isinstance(a, str):
                p.put_error("syntax error: server address is not string")
            else:
                p.put_error(address_problem(a))
        every = tuple(dict.fromkeys(a for a in remotes_json if isinstance(a, str)))
        remotes = tuple(a for a in every if a != local)  # OVS drops its own address
        if every and not remotes:
            p.fail("at least one remote address (other than the local address) is required")
    else:
        servers = p.member("prev_servers", ("object",), optional=False)
        if servers is not None:
            p.put_error(servers_problem(servers))
        prev_index = p.u64("prev_index", optional=True)
        if prev_index:
            prev_data = p.member("prev_data", ("any",), optional=False)
            prev_eid = p.uuid("prev_eid")
            prev_term = p.u64("prev_term")
            timer = p.u64("prev_election_timer", optional=True)
    cid = p.uuid("cluster_id", optional=remotes_json is not None)
    p.finish()
    assert sid is not None and name is not None and local is not None
    return ClusterHeader(sid, name, local, cid, remotes, servers, prev_index, prev_term,
                         prev_eid, prev_data, timer)


def header_to_json(h: ClusterHeader) -> dict[str, Any]:
    """The header as raft_header_to_json lays it out."""
    out: dict[str, Any] = {"server_id": str(h.sid)}
    if h.cid is not None and h.cid != ZERO_UUID:
        out["cluster_id"] = str(h.cid)
    out["local_address"] = h.local_address
    out["name"] = h.name
    if h.remote_addresses:
        out["remote_addresses"] = list(h.remote_addresses)
    if h.prev_servers is not None:
        out["prev_servers"] = h.prev_servers
    if h.prev_index:
        out["prev_index"] = u64_to_json(h.prev_index)
        out["prev_term"] = u64_to_json(h.prev_term)
        out["prev_data"] = h.prev_data
        out["prev_eid"] = str(h.prev_eid or ZERO_UUID)
        if h.prev_election_timer:
            out["prev_election_timer"] = u64_to_json(h.prev_election_timer)
    return out


# ---------------------------------------------------------------------------
# Later records
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """A log entry at `index`.  `data` is ``[schema|null, txn|null]`` and comes with its
    `eid`; `servers` ({sid: address}) is a configuration change; `election_timer` a
    timer change; an entry with none of them is a new leader's no-op."""

    term: int
    index: int
    data: Any = None
    eid: UUID | None = None
    servers: dict[str, str] | None = None
    election_timer: int = 0
    comment: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Term:
    term: int
    comment: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Vote:
    term: int
    vote: UUID
    comment: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Leader:
    term: int
    leader: UUID
    comment: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CommitIndex:
    commit_index: int
    comment: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Note:
    """``"left"`` (the server left the cluster: the file can no longer be opened) or
    ``"transfer leadership"``."""

    note: str
    comment: str | None = field(default=None, compare=False)


Record = Entry | Term | Vote | Leader | CommitIndex | Note


def parse_record(obj: object) -> Record:
    p = _Parser(obj, "raft log record")
    comment = p.string("comment", optional=True)
    rec = _parse_record(p, comment)
    p.finish()
    return rec


def _parse_record(p: _Parser, comment: str | None) -> Record:
    note = p.string("note", optional=True)
    if note is not None:
        return Note(note, comment)
    commit_index = p.u64("commit_index", optional=True)
    if commit_index:
        return CommitIndex(commit_index, comment)
    term = p.u64("term")
    leader = p.uuid("leader", optional=True)
    if leader is not None:
        if leader == ZERO_UUID:
            p.fail("record says leader is all-zeros SID")
        return Leader(term, leader, comment)
    vote = p.uuid("vote", optional=True)
    if vote is not None:
        if vote == ZERO_UUID:
            p.fail("record votes for all-zeros SID")
        return Vote(term, vote, comment)
    index = p.u64("index", optional=True)
    if not index:
        return Term(term, comment)
    servers = p.member("servers", ("object",), optional=True)
    if servers is not None:
        p.put_error(servers_problem(servers))
    timer = p.u64("election_timer", optional=True)
    data = p.member("data", ("object", "array"), optional=True)
    eid = p.uuid("eid") if data is not None else None
    return Entry(term, index, data, eid, servers, timer, comment)


def record_to_json(r: Record) -> dict[str, Any]:
    """The record as raft_record_to_json lays it out."""
    out: dict[str, Any] = {}
    if r.comment:
        out["comment"] = r.comment
    if isinstance(r, Entry):
        out["term"] = u64_to_json(r.term)
        out["index"] = u64_to_json(r.index)
        if r.data is not None:
            out["data"] = r.data
        if r.servers is not None:
            out["servers"] = r.servers
        if r.election_timer:
            out["election_timer"] = u64_to_json(r.election_timer)
        if r.data is not None:
            out["eid"] = str(r.eid or ZERO_UUID)
    elif isinstance(r, Term):
        out["term"] = u64_to_json(r.term)
    elif isinstance(r, Vote):
        out["term"] = u64_to_json(r.term)
        out["vote"] = str(r.vote)
    elif isinstance(r, Note):
        out["note"] = r.note
    elif isinstance(r, CommitIndex):
        out["commit_index"] = u64_to_json(r.commit_index)
    elif isinstance(r, Leader):
        out["term"] = u64_to_json(r.term)
        out["leader"] = str(r.leader)
    else:
        raise TypeError(f"not a cluster record: {r!r}")
    return out
