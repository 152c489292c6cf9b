"""The safety properties the cluster simulator checks after every step, and the tiny
state machine each simulated member applies committed entries to.

Properties (spec/OvsdbRaft.tla's invariants, over the whole run):
  election safety     at most one leader per term, over history;
  log matching        two logs with an entry of equal index and term agree up to it;
  leader completeness a leader holds every committed entry (checked when it is elected
                      and every so often while it leads);
  state machine       every member applies the same entry at an index, and its state at
                      an index equals every other member's there;
  no lost ack         an acknowledged command is committed, once, at one index;
  committed once      no eid is committed twice (ForwardOnce);
  electable complete  no member that lacks a committed entry could win an election by log
                      comparison (the heart of Raft's safety argument: what a Figure 8
                      commit breaks, seen before a leader ever overwrites the entry);
  durable votes       a vote that left a member survives the member's crash;
  consistent data     a command's expected old value is the value it finds (a command
                      built on a stale state shows up here, as "inconsistent data" does
                      in OVS).
"""

from __future__ import annotations

import hashlib
from typing import Any

from reference.raft.log import Snapshot
from reference.raft.node import LEADER, RaftNode
from reference.raft.ready import Committed


class Violation(Exception):
    """A safety property failed; the message says which and where."""


def command_data(key: str, old: int | None, new: int) -> list[Any]:
    """A command in OVS's data shape [schema|null, txn|null]: set key from old to new."""
    return [None, {"Sim": {"key": key, "old": old, "new": new}}]


class App:
    """A member's state machine: a key-value map, changed only by committed entries."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.kv: dict[str, int] = {}
        self.index = 0

    def load(self, snap: Snapshot) -> None:
        self.kv = dict(snap.data[1]["kv"]) if snap.data and snap.data[1] else {}
        self.index = snap.index

    def snapshot_data(self) -> list[Any]:
        return [None, {"kv": dict(self.kv)}]

    def apply(self, c: Committed) -> None:
        if c.index != self.index + 1:
            raise Violation(f"{self.name} applied index {c.index} after {self.index}")
        self.index = c.index
        if c.data is None:
            return
        op = c.data[1]["Sim"]
        if self.kv.get(op["key"]) != op["old"]:
            raise Violation(
                f"inconsistent data: {self.name} at index {c.index} (eid {c.eid}) expects "
                f"{op['key']}={op['old']} but has {self.kv.get(op['key'])}")
        self.kv[op["key"]] = op["new"]

    def digest(self) -> str:
        return hashlib.sha1(repr(sorted(self.kv.items())).encode()).hexdigest()[:12]


class SafetyChecker:
    def __init__(self) -> None:
        self.leaders: dict[int, str] = {}              # term -> leader, over history
        self.committed: dict[int, tuple[int, str | None]] = {}   # index -> (term, eid)
        self.digests: dict[int, str] = {}              # index -> state digest there
        self.eid_index: dict[str, int] = {}            # eid -> index it committed at
        self.acked: dict[str, int] = {}                # acknowledged eid -> commit index
        self.votes_sent: dict[str, tuple[int, str]] = {}   # sid -> (term, candidate)
        self.top = 0                                   # highest committed index

    # --- per event --------------------------------------------------------------------

    def on_leader(self, node: RaftNode) -> None:
        other = self.leaders.setdefault(node.term, node.sid)
        if other != node.sid:
            raise Violation(f"election safety: {other[:8]} and {node.sid[:8]} both led "
                            f"term {node.term}")
        self.check_leader_complete(node)

    def on_applied(self, node: RaftNode, app: App, c: Committed) -> None:
        got = (c.term, c.eid)
        seen = self.committed.setdefault(c.index, got)
        self.top = max(self.top, c.index)
        if seen != got:
            raise Violation(f"state machine safety: {node.sid[:8]} applied {got} at index "
                            f"{c.index}, another member applied {seen}")
        digest = self.digests.setdefault(c.index, app.digest())
        if digest != app.digest():
            raise Violation(f"state machine safety: {node.sid[:8]}'s state at index "
                            f"{c.index} differs from another member's")
        if c.eid is not None:
            at = self.eid_index.setdefault(c.eid, c.index)
            if at != c.index:
                raise Violation(f"committed twice: eid {c.eid[:8]} at indexes {at} and "
                                f"{c.index}")

    def on_loaded(self, node: RaftNode, app: App, snap: Snapshot) -> None:
        digest = self.digests.setdefault(snap.index, app.digest())
        if digest != app.digest():
            raise Violation(f"state machine safety: {node.sid[:8]} loaded a snapshot at "
                            f"{snap.index} that differs from the state there")

    def on_ack(self, eid: str, commit_index: int) -> None:
        self.acked[eid] = commit_index
        if eid not in self.eid_index:
            raise Violation(f"acknowledged command {eid[:8]} is not committed")

    def on_vote_sent(self, sid: str, term: int, candidate: str) -> None:
        if self.votes_sent.get(sid, (0, ""))[0] <= term:
            self.votes_sent[sid] = (term, candidate)

    def on_restart(self, sid: str, term: int, vote: str | None) -> None:
        sent = self.votes_sent.get(sid)
        if sent and (term < sent[0] or (term == sent[0] and vote != sent[1])):
            raise Violation(f"durable votes: {sid[:8]} voted for {sent[1][:8]} in term "
                            f"{sent[0]} but restarted with term {term}, vote "
                            f"{(vote or '-')[:8]}")

    # --- over the members -------------------------------------------------------------

    def check_leader_complete(self, node: RaftNode) -> None:
        log = node.log
        for index, (term, eid) in self.committed.items():
            if term > node.term:
                continue
            if index <= log.snapshot.index:
                continue
            if index > log.last_index:
                raise Violation(f"leader completeness: leader {node.sid[:8]} of term "
                                f"{node.term} lacks committed index {index}")
            e = log.entry(index)
            has = (e.term, str(e.eid) if e.eid is not None else None)
            if has != (term, eid):
                raise Violation(f"leader completeness: leader {node.sid[:8]} of term "
                                f"{node.term} has {has} at committed index "
                                f"{index}, not {(term, eid)}")

    def check_log_matching(self, nodes: list[RaftNode]) -> None:
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                self._match_pair(a, b)

    @staticmethod
    def _match_pair(a: RaftNode, b: RaftNode) -> None:
        lo = max(a.log.start, b.log.start)
        hi = min(a.log.last_index, b.log.last_index)
        # The highest index where the terms agree; below it, the entries must.
        for top in range(hi, lo - 1, -1):
            if a.log.term_at(top) == b.log.term_at(top):
                if a.log.slice(lo, top + 1) != b.log.slice(lo, top + 1):
                    raise Violation(f"log matching: {a.sid[:8]} and {b.sid[:8]} agree on "
                                    f"the term of index {top} but not on the entries "
                                    f"before it")
                return

    def check_electable_complete(self, nodes: list[RaftNode]) -> None:
        """Every member that lacks a committed entry is refused by a majority of
        members on log comparison alone (so it can never lead)."""
        if not self.committed:
            return
        for x in nodes:
            config = x.log.servers_through(x.log.last_index)
            if x.sid not in config:
                continue                    # not a voting member: never a candidate
            missing = self._first_missing(x)
            if missing is None:
                continue
            mine = (x.log.last_term, x.log.last_index)
            grant = [y.sid[:8] for y in nodes
                     if y.sid in config and mine >= (y.log.last_term, y.log.last_index)]
            if 2 * len(grant) > len(config):
                raise Violation(f"electable complete: {x.sid[:8]} lacks committed index "
                                f"{missing} yet its log is as up to date as those of "
                                f"{grant}, a majority")

    def _first_missing(self, x: RaftNode) -> int | None:
        log = x.log
        top = self.top
        if top <= log.snapshot.index or log.term_at(top) == self.committed[top][0]:
            return None  # it holds the last committed entry, hence (log matching) all
        for index in sorted(self.committed):
            if index <= log.snapshot.index:
                continue
            if index > log.last_index or log.term_at(index) != self.committed[index][0]:
                return index
        return None

    def check_leaders(self, nodes: list[RaftNode]) -> None:
        for n in nodes:
            if n.role == LEADER:
                self.on_leader(n)

    def check_acked(self) -> None:
        for eid, index in self.acked.items():
            at = self.eid_index.get(eid)
            if at is None or (index and at > index):
                raise Violation(f"acknowledged command {eid[:8]} (commit index {index}) "
                                f"was lost (committed at {at})")
