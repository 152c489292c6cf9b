"""What a member keeps on disk, in the clustered file's record shapes (OVS-RAFT.md
section 1), and the replay of those records into the state a restarted node starts from.

The node emits these records; ``reference/storage/cluster_file.py`` frames them on disk.
Records (any may add ``comment``):

    header        server_id, cluster_id, name, local_address, prev_servers, prev_index,
                  prev_term, prev_eid, prev_data, optional prev_election_timer
    entry         term, index, optional data+eid, servers, election_timer
    term          term
    vote          term, vote
    leader        term, leader
    commit index  commit_index
    note          note ("left" | "transfer leadership")

Replay follows raft.c: an entry below the log's end truncates the log there; an index
that skips ahead, an index below the commit index, a term lower than the previous
entry's, two different votes in one term, a commit index that regresses or passes the
log's end are errors (``ReplayError``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reference.raft.log import RaftLog, Snapshot
from reference.raft.messages import Entry, RaftParseError

JOIN_HEADER_KEYS = {"server_id", "cluster_id", "name", "local_address", "remote_addresses",
                    "comment"}
HEADER_KEYS = {"server_id", "cluster_id", "name", "local_address", "prev_servers",
               "prev_index", "prev_term", "prev_eid", "prev_data", "prev_election_timer",
               "comment"}


class ReplayError(ValueError):
    """The records do not make a valid clustered log."""


def header_record(sid: str, cid: str, name: str, local_address: str,
                  snap: Snapshot) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "server_id": sid, "cluster_id": cid, "name": name, "local_address": local_address,
        "prev_servers": dict(snap.servers), "prev_index": snap.index, "prev_term": snap.term,
        "prev_eid": snap.eid, "prev_data": snap.data}
    if snap.election_timer:
        rec["prev_election_timer"] = snap.election_timer
    return rec


def join_header_record(sid: str, name: str, local_address: str,
                       remote_addresses: list[str], cid: str | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {"server_id": sid, "name": name, "local_address": local_address,
                           "remote_addresses": list(remote_addresses)}
    if cid is not None:
        rec["cluster_id"] = cid
    return rec


def term_record(term: int, vote: str | None) -> dict[str, Any]:
    return {"term": term} if vote is None else {"term": term, "vote": vote}


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
    notes: list[str] = field(default_factory=list)
    remote_addresses: list[str] = field(default_factory=list)   # a joiner's remotes


def replay(records: list[dict[str, Any]]) -> DurableState:
    """The state ``records`` (header first) describe, or ReplayError."""
    if not records:
        raise ReplayError("empty clustered log: no header")
    h = records[0]
    if isinstance(h, dict) and "remote_addresses" in h and not set(h) - JOIN_HEADER_KEYS:
        # join-cluster's header: no log yet, and maybe no cid.
        snap = Snapshot(0, 0, "00000000-0000-0000-0000-000000000000", {}, 0, None)
        st = DurableState(h["server_id"], h.get("cluster_id"), h["name"],
                          h["local_address"], RaftLog(snap),
                          remote_addresses=list(h["remote_addresses"]))
    elif not isinstance(h, dict) or set(h) - HEADER_KEYS or "prev_index" not in h:
        raise ReplayError(f"bad header record: {h!r}")
    else:
        snap = Snapshot(h["prev_index"], h["prev_term"], h["prev_eid"],
                        dict(h["prev_servers"]), h.get("prev_election_timer", 0),
                        h["prev_data"])
        st = DurableState(h["server_id"], h["cluster_id"], h["name"], h["local_address"],
                          RaftLog(snap), commit_index=snap.index)
    log = st.log
    for n, rec in enumerate(records[1:], 1):
        rec = {k: v for k, v in rec.items() if k != "comment"}
        if "index" in rec:
            try:
                entry = Entry.from_json({k: v for k, v in rec.items() if k != "index"},
                                        f"record {n}")
            except RaftParseError as e:
                raise ReplayError(str(e)) from None
            index = rec["index"]
            if index > log.end:
                raise ReplayError(f"record {n}: index {index} skips ahead of {log.end}")
            if index < st.commit_index:
                raise ReplayError(f"record {n}: index {index} < commit index")
            prev = log.term_at(index - 1)
            if prev is not None and entry.term < prev:
                raise ReplayError(f"record {n}: term {entry.term} < previous {prev}")
            log.truncate(index)
            log.append(entry)
        elif "commit_index" in rec:
            ci = rec["commit_index"]
            if ci < st.commit_index:
                raise ReplayError(f"record {n}: commit index regresses from "
                                  f"{st.commit_index} to {ci}")
            if ci > log.last_index:
                raise ReplayError(f"record {n}: commit index {ci} is past the last log "
                                  f"index {log.last_index}")
            st.commit_index = ci
        elif "note" in rec:
            st.notes.append(rec["note"])
        elif "leader" in rec:
            pass  # a hint for the log reader; the node relearns its leader
        elif "term" in rec:
            term, vote = rec["term"], rec.get("vote")
            if term < st.term:
                raise ReplayError(f"record {n}: term {term} < current term {st.term}")
            if term == st.term and st.vote is not None and vote not in (None, st.vote):
                raise ReplayError(f"record {n}: two votes in term {term}")
            if term > st.term:
                st.vote = None
            st.term = term
            if vote is not None:
                st.vote = vote
        else:
            raise ReplayError(f"record {n}: unknown record {rec!r}")
    if "left" in st.notes:
        raise ReplayError("this server has left the cluster")
    return st
