"""The node's side of the clustered file: what it persists and how a restarted node gets
its state back, through the storage layer's single definition of the file.

The records are ``reference.storage.cluster_records``'s values (ClusterHeader, Entry,
Term, Vote, Leader, CommitIndex, Note) and replay is ``cluster_file.replay`` (raft.c's
rules and error messages, ``ClusterFormatError``); log entries are storage's ``Entry``
everywhere (file, log, append_request).  What is left here is genuinely the node's own
adaptation, which storage should not know about: the node keeps sids, cids, votes and
its snapshot's eid as the strings its messages carry (the file's values use UUIDs), keeps
its log as a ``RaftLog`` whose snapshot is the header's ``prev_*``, and a restarted node
needs that log plus its term, vote and commit index as one ``DurableState``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from reference.raft.log import RaftLog, Snapshot
from reference.storage.cluster_file import ClusterLog
from reference.storage.cluster_file import replay as replay_records
from reference.storage.cluster_records import (
    ClusterFormatError,
    ClusterHeader,
    Record,
    Term,
    Vote,
    header_to_json,
    parse_header,
    parse_record,
    record_to_json,
)

ZERO_EID = "00000000-0000-0000-0000-000000000000"

# What a PersistOp carries: a header (first, in a rewrite) or a later record.
FileRecord = ClusterHeader | Record


def header(sid: str, cid: str | None, name: str, local_address: str,
           snap: Snapshot) -> ClusterHeader:
    """A member's header: its identity and the snapshot as ``prev_*``."""
    return ClusterHeader(UUID(sid), name, local_address,
                         cid=UUID(cid) if cid is not None else None,
                         prev_servers=dict(snap.servers), prev_index=snap.index,
                         prev_term=snap.term, prev_eid=UUID(snap.eid), prev_data=snap.data,
                         prev_election_timer=snap.election_timer)


def join_header(sid: str, name: str, local_address: str, remote_addresses: list[str],
                cid: str | None = None) -> ClusterHeader:
    """The header ``join-cluster`` writes: no log yet, and maybe no cid."""
    return ClusterHeader(UUID(sid), name, local_address,
                         cid=UUID(cid) if cid is not None else None,
                         remote_addresses=tuple(remote_addresses))


def term_record(term: int, vote: str | None) -> Term | Vote:
    return Term(term) if vote is None else Vote(term, UUID(vote))


def to_json(record: FileRecord) -> dict[str, Any]:
    """The record's JSON object, as the file holds it."""
    if isinstance(record, ClusterHeader):
        return header_to_json(record)
    return record_to_json(record)


@dataclass
class DurableState:
    """A member's durable state: identity, log (with its snapshot), term, vote, and the
    commit index it last recorded."""

    sid: str
    cid: str | None      # None: a joiner that has not learnt it yet
    name: str
    local_address: str
    log: RaftLog
    term: int = 0
    vote: str | None = None
    commit_index: int = 0
    remote_addresses: list[str] = field(default_factory=list)   # a joiner's remotes


def restore(state: ClusterLog) -> DurableState:
    """The node's state from a replayed file."""
    h = state.header
    cid = str(h.cid) if h.cid is not None else None
    if h.joining:
        snap = Snapshot(0, 0, ZERO_EID, {}, 0, None)
        return DurableState(str(h.sid), cid, h.name, h.local_address, RaftLog(snap),
                            remote_addresses=list(h.remote_addresses or ()))
    snap = Snapshot(h.prev_index, h.prev_term, str(h.prev_eid or ZERO_EID),
                    dict(h.prev_servers or {}), h.prev_election_timer, h.prev_data)
    return DurableState(str(h.sid), cid, h.name, h.local_address,
                        RaftLog(snap, state.entries),
                        term=state.term, vote=str(state.vote) if state.vote else None,
                        commit_index=state.commit_index)


def replay(records: Sequence[FileRecord]) -> DurableState:
    """The state ``records`` (header first) describe, or ClusterFormatError."""
    if not records or not isinstance(records[0], ClusterHeader):
        raise ClusterFormatError("clustered log does not start with a header")
    later = [r for r in records[1:] if not isinstance(r, ClusterHeader)]
    if len(later) != len(records) - 1:
        raise ClusterFormatError("a header in the middle of a clustered log")
    return restore(replay_records(records[0], later))


def replay_json(objects: Sequence[Any]) -> DurableState:
    """Like ``replay`` for the records' JSON objects, parsed as strictly as OVS does."""
    if not objects:
        raise ClusterFormatError("empty clustered log: no header")
    h = parse_header(objects[0])
    return replay([h, *([] if h.joining else [parse_record(o) for o in objects[1:]])])
