"""A sans-I/O Raft node with OVS 3.1's semantics (ovsdb/raft.c), etcd-raft style.

Inputs: ``step(message)`` for a received message, ``tick(now_ms)`` for time,
``persisted(seq)`` when the records of ``PersistOp.seq`` (and every earlier one) are
durable, and commands: ``propose`` (commands.py), ``transfer_leadership``,
``take_snapshot``, ``change_election_timer``, and ``kick``/``leave`` (membership.py).
Output: ``ready()`` returns one ``Ready`` batch (records, messages, committed entries,
command replies, trace events) and starts a new one.

Method names follow spec/OvsdbRaft.tla (action = method = trace event): Timeout,
StartElection, HandleRequestVote, HandleRequestVoteResponse, BecomeLeader,
TransferLeadership, HandleTimeoutNow, ClientRequest, Forward, HandleForward,
AppendEntries, HandleAppendEntriesRequest, HandleInstallSnapshot,
HandleAppendEntriesResponse, AdvanceCommitIndex, TakeSnapshot, Restart, StepDown.

Durability: a vote_reply and an append_reply (and install_snapshot_reply) leave only
after the records they vouch for are durable; a candidate counts its own vote, and a
leader its own log, only once durable.  This module is over 600 lines on purpose: one
Raft state machine (elections, replication, snapshots, commit) whose handlers share all
of its state; commands and membership live apart as mixins.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from reference.raft import messages
from reference.raft.commands import Commands
from reference.raft.durable import DurableState, FileRecord, header, term_record
from reference.raft.log import RaftLog, Snapshot
from reference.raft.membership import Membership
from reference.raft.progress import CANDIDATE, FOLLOWER, LEADER, PRECANDIDATE, Command, Peer
from reference.raft.ready import (
    IN_PROGRESS,
    SUCCESS,
    Committed,
    PersistOp,
    Ready,
    Send,
)
from reference.storage.cluster_records import CommitIndex, Entry, Leader, Note

ELECTION_RANGE_MS = 1000  # timeout = timer + random 0-999 ms, as raft.c
DEFAULT_ELECTION_TIMER = 1000  # a file that names no timer (create-cluster without one)

# Planted bugs, for the simulator to catch (never on outside tests of bugs).
BUGS = frozenset({
    "figure8_commit",              # commit an earlier term's entry by counting replicas
    "vote_before_persist",         # vote_reply sent before the vote is durable
    "forward_retry_after_commit",  # a forwarded command retried after it committed
    "install_snapshot_keeps_old_data",  # the state machine keeps its data on install
    "prereq_unchecked",            # the leader appends forwarded commands unchecked
})


@dataclass(frozen=True)
class NodeOptions:
    prevote: bool = False      # OVS 3.3's pre-vote; never on towards 3.1 members
    max_batch: int = 64        # entries per append_request
    max_inflight: int = 4      # append_requests in flight to one follower
    bugs: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.bugs) - BUGS
        if unknown:
            raise ValueError(f"unknown planted bugs: {sorted(unknown)}")


def bootstrap_state(sid: str, cid: str, name: str, address: str,
                    servers: dict[str, str], data: Any, eid: str,
                    election_timer: int = 1000) -> DurableState:
    """A member of a cluster whose every member starts from the same snapshot (index 1,
    term 1): what create-cluster plus joins plus compaction leave behind."""
    snap = Snapshot(1, 1, eid, dict(servers), election_timer, data)
    return DurableState(sid, cid, name, address, RaftLog(snap), term=1, commit_index=1)


class RaftNode(Commands, Membership):
    def __init__(self, state: DurableState, *, now_ms: int, rng: random.Random,
                 options: NodeOptions | None = None, restarted: bool = False) -> None:
        self.sid = state.sid
        self.cid = state.cid
        self.name = state.name
        self.address = state.local_address
        self.opts = options or NodeOptions()
        self.rng = rng
        self.now = now_ms
        self.log = state.log
        self.term = state.term
        self.vote = state.vote
        self.role = FOLLOWER
        self.leader_sid: str | None = None
        self.commit_index = max(state.commit_index, self.log.snapshot.index)
        # A joiner knows no timer until its snapshot arrives: OVS's default meanwhile.
        self.election_timer = (self.log.election_timer_through(self.commit_index)
                               or DEFAULT_ELECTION_TIMER)
        self.election_base = now_ms
        self.election_deadline = 0
        self.ping_deadline = now_ms + self.election_timer // 3
        self.peers: dict[str, Peer] = {}
        self.votes: set[str] = set()
        self.leadership_transfer = False
        # When the last election began, why, and when it was won (ms, None if never),
        # for cluster/status.
        self.election_start: int | None = None
        self.election_reason = "timeout"
        self.election_won: int | None = None
        self.commands: dict[str, Command] = {}
        self._ready = Ready()
        self._seq = 0                  # last PersistOp.seq handed out
        self._durable_seq = 0          # last seq reported durable
        self._vote_seq = 0             # seq of our own vote's record
        self._held: list[tuple[int, Send]] = []
        self._index_seq: list[list[int]] = []   # [seq, last index it makes durable]
        self.durable_index = self.log.last_index
        self._init_membership(state)
        self._reset_election_timer()
        if restarted:
            # What the disk gave back (unsynced writes may be lost), for trace validation.
            self._event("Restart", commit=self.commit_index, vote=self.vote,
                        snapshot=self.log.snapshot.index,
                        entries=[[e.term, str(e.eid) if e.eid is not None else None,
                                  sorted(e.servers) if e.servers is not None else None]
                                 for e in self.log.entries])
        # The state machine starts from the snapshot and the entries known committed.
        self._ready.snapshot = self.log.snapshot
        self._emit_committed(self.log.snapshot.index + 1, self.commit_index)

    # --- public surface -------------------------------------------------------------

    @property
    def servers(self) -> dict[str, str]:
        return self.log.servers_through(self.log.last_index)

    @property
    def is_leader(self) -> bool:
        return self.role == LEADER

    @property
    def applied_eid(self) -> str:
        """The eid of the last entry with data this node applied (a forward's prereq)."""
        return self.log.eid_through(self.commit_index)

    def ready(self) -> Ready:
        out, self._ready = self._ready, Ready()
        return out

    def persisted(self, up_to: int) -> None:
        """Records of every PersistOp with seq <= up_to are durable."""
        if up_to <= self._durable_seq:
            return
        self._durable_seq = up_to
        while self._index_seq and self._index_seq[0][0] <= up_to:
            self.durable_index = max(self.durable_index, self._index_seq.pop(0)[1])
        still = []
        for seq, send in self._held:
            if seq <= up_to:
                self._ready.messages.append(send)
            else:
                still.append((seq, send))
        self._held = still
        if self.role == CANDIDATE:
            self._check_votes()
        elif self.role == LEADER:
            self._advance_commit_index()

    def tick(self, now_ms: int) -> None:
        self.now = max(self.now, now_ms)
        if self.left:
            return
        self._membership_tick()
        if self.now >= self.election_deadline and self.sid in self.servers:
            if self.role == LEADER:
                self._check_quorum()
            else:
                self.timeout()
        if self.now >= self.ping_deadline:
            if self.role == LEADER:
                self._send_heartbeats()
            self._run_commands()
            self.ping_deadline = self.now + self.election_timer // 3

    def step(self, msg: messages.Message) -> None:
        """Handles one received message (parsed by messages.parse_message)."""
        if self.left:
            return self._drop(msg, "left the cluster")
        if self.cid is None and msg.cluster is not None:
            self.cid = msg.cluster        # a joiner learns the cid from its first message
        if msg.cluster is not None and msg.cluster != self.cid:
            return self._drop(msg, "wrong cluster")
        if msg.to is not None and msg.to != self.sid:
            return self._drop(msg, "misrouted")
        if msg.sender not in self.servers and not self._accepts_stranger(msg):
            return self._drop(msg, "unknown server")
        if isinstance(msg, messages.VoteRequest) and self._suppress_disruptive(msg):
            return self._drop(msg, "disruptive vote request")
        term = getattr(msg, "term", None)
        if term is not None:
            if term > self.term:
                self._set_term(term, None)
                self._become_follower()
                if not isinstance(msg, (messages.VoteRequest, messages.VoteReply)):
                    # (the vote handlers take a newer term themselves, as in the spec)
                    self._event("StepDown", sender=msg.sender, msg=msg.METHOD)
            elif term < self.term:
                if isinstance(msg, messages.AppendRequest):
                    self._reply_append(msg, "inconsistency", comment="stale term")
                return self._drop(msg, "stale term")
        handler = getattr(self, "_on_" + msg.METHOD, None)
        if handler is not None:
            handler(msg)

    # --- commands (proposals and forwards: commands.py) --------------------------------

    def transfer_leadership(self) -> str | None:
        """TransferLeadership: the leader asks its most caught-up follower to stand now
        (become_leader).  Returns the chosen follower, or None."""
        if self.role != LEADER:
            return None
        candidates = [p for s, p in sorted(self.peers.items()) if s in self.servers]
        if not candidates:
            return None
        target = max(candidates, key=lambda p: p.match_index)
        self._write(Note("transfer leadership"))
        self._event("TransferLeadership", target=target.sid, match=target.match_index)
        self._send(messages.BecomeLeader(sender=self.sid, to=target.sid, cluster=self.cid,
                                  term=self.term))
        return target.sid

    def leader_disconnected(self) -> None:
        """The shell lost every connection to our leader (most likely its process
        died): stand within a quarter of the random range instead of waiting out a
        whole election timeout, and stop suppressing others' vote requests.  Not in
        raft.c; an election is safe at any time, this only shortens a failover (a live
        leader that merely dropped its connections wins the term back or steps down)."""
        if self.role != FOLLOWER or self.leader_sid in (None, self.sid):
            return
        self.leader_sid = None
        self.election_base = self.now - self.election_timer
        self.election_deadline = min(self.election_deadline,
                                     self.now + self.rng.randrange(ELECTION_RANGE_MS // 4))

    def take_snapshot(self, index: int, data: Any) -> bool:
        """TakeSnapshot: compacts the log up to ``index`` (applied) with the state
        machine's ``data`` at that index.  Followers only, as OVS."""
        if self.role == LEADER or not self.log.start <= index <= self.commit_index:
            return False
        snap = Snapshot(index, self.log.term_at(index) or 0, self.log.eid_through(index),
                        self.log.servers_through(index),
                        self.log.election_timer_through(index), data)
        self.log.compact(snap)
        self._rewrite()
        self._event("TakeSnapshot", index=index)
        return True

    @property
    def pending_election_timer(self) -> int | None:
        """The election timer of an appended, not yet committed change (None if none)."""
        for i in range(self.commit_index + 1, self.log.end):
            if self.log.entry(i).election_timer:
                return self.log.entry(i).election_timer
        return None

    def change_election_timer(self, ms: int) -> str:
        """cluster/change-election-timer on the leader: appended, effective on commit.
        Refusals in raft.c's order: not leader, a change pending, out of range, more
        than doubling."""
        if self.role != LEADER:
            return "not leader"
        if self.pending_election_timer is not None:
            return "in progress"
        if not 100 <= ms <= 600000:
            return "out of range"
        if ms > 2 * self.election_timer:
            return "too large"
        self._append(Entry(self.term, self.log.end, election_timer=ms))
        self._replicate_all()
        return "change in progress"

    # --- elections ------------------------------------------------------------------

    def timeout(self) -> None:
        """Timeout: no leader heard for an election timeout; pre-vote or stand."""
        prevote = self.opts.prevote and len(self.servers) > 1
        self._start_election(prevote=prevote, transfer=False, action="Timeout")

    def _start_election(self, prevote: bool, transfer: bool, action: str,
                        **fields: Any) -> None:
        """Stands (or, with ``prevote``, asks for pre-votes); the trace event is
        ``action``: Timeout, StartElection (after pre-votes) or HandleTimeoutNow."""
        if self.sid not in self.servers:
            return
        if not prevote:
            self._vote_seq = self._set_term(self.term + 1, self.sid)
        self.leader_sid = None
        self.role = PRECANDIDATE if prevote else CANDIDATE
        self.leadership_transfer = transfer
        if action != "StartElection":   # the real vote after pre-votes is the same election
            self.election_start, self.election_won = self.now, None
            self.election_reason = "leadership_transfer" if transfer else "timeout"
        self.votes = {self.sid}
        self._reset_election_timer()
        self._event(action, prevote=prevote, transfer=transfer, **fields)
        for sid in sorted(self.servers):
            if sid != self.sid:
                self._send(messages.VoteRequest(
                    sender=self.sid, to=sid, cluster=self.cid, term=self.term,
                    last_log_index=self.log.last_index, last_log_term=self.log.last_term,
                    leadership_transfer=transfer, is_prevote=prevote))
        self._check_votes()

    def _suppress_disruptive(self, rq: messages.VoteRequest) -> bool:
        # Raft thesis 4.2.3, as raft.c: a leader ignores vote requests, a follower
        # ignores them within one election timer of hearing its leader; a transfer's
        # requests are always processed.
        if rq.leadership_transfer:
            return False
        if self.role == LEADER:
            return True
        # A follower that has heard no leader since it started (or since it lost its
        # leader's connections) has no leader to protect.
        return (self.role == FOLLOWER and self.leader_sid is not None
                and self.now < self.election_base + self.election_timer)

    def _log_ok(self, last_term: int, last_index: int) -> bool:
        return (last_term, last_index) >= (self.log.last_term, self.log.last_index)

    def _on_vote_request(self, rq: messages.VoteRequest) -> None:
        """HandleRequestVote."""
        if rq.is_prevote:
            # Pre-vote (3.3): the log decides; the current vote does not; nothing is
            # recorded.
            grant = self._log_ok(rq.last_log_term, rq.last_log_index)
            self._event("HandleRequestVote", candidate=rq.sender, prevote=True, grant=grant,
                        last_index=rq.last_log_index, last_term=rq.last_log_term)
            if grant:
                self._send(messages.VoteReply(sender=self.sid, to=rq.sender, cluster=self.cid,
                                       term=self.term, vote=rq.sender, is_prevote=True))
            return
        if self.vote is None:
            if not self._log_ok(rq.last_log_term, rq.last_log_index):
                # Our log is more up-to-date: withhold the vote, with no reply at all.
                self._event("HandleRequestVote", candidate=rq.sender, grant=False,
                            last_index=rq.last_log_index, last_term=rq.last_log_term)
                return
            self._set_term(self.term, rq.sender)
            self._reset_election_timer()
        self._event("HandleRequestVote", candidate=rq.sender, grant=self.vote == rq.sender,
                    last_index=rq.last_log_index, last_term=rq.last_log_term)
        reply = messages.VoteReply(sender=self.sid, to=rq.sender, cluster=self.cid,
                            term=self.term, vote=self.vote)  # type: ignore[arg-type]
        if "vote_before_persist" in self.opts.bugs:
            self._send(reply)
        else:
            self._send_when_durable(reply)

    def _on_vote_reply(self, rpy: messages.VoteReply) -> None:
        """HandleRequestVoteResponse."""
        self._event("HandleRequestVoteResponse", voter=rpy.sender, vote=rpy.vote,
                    prevote=rpy.is_prevote)
        if rpy.vote != self.sid:
            return
        if rpy.is_prevote and self.role == PRECANDIDATE:
            self.votes.add(rpy.sender)
            if self._quorum(self.votes):
                self._start_election(prevote=False, transfer=False, action="StartElection")
        elif not rpy.is_prevote and self.role == CANDIDATE:
            self.votes.add(rpy.sender)
            self._check_votes()

    def _quorum(self, sids: set[str]) -> bool:
        servers = self.servers
        return 2 * len(sids & set(servers)) > len(servers)

    def _check_votes(self) -> None:
        if (self.role == CANDIDATE and self._quorum(self.votes)
                and self._durable_seq >= self._vote_seq):
            self.become_leader()

    def become_leader(self) -> None:
        """BecomeLeader: a quorum voted for us; append the no-op and replicate."""
        self.role = LEADER
        self.leader_sid = self.sid
        self.leadership_transfer = False
        self.election_won = self.now
        self._write(Leader(self.term, UUID(self.sid)))
        self.peers = {}
        self._sync_peers()
        self._event("BecomeLeader", last_index=self.log.last_index)
        self._reset_election_timer()
        self._append(Entry(self.term, self.log.end))
        self._replicate_all(heartbeat=True)

    def _check_quorum(self) -> None:
        # raft.c: at an election timeout a leader steps down unless at least half of
        # the other servers replied since the last one.
        others = [s for s in self.servers if s != self.sid]
        count = sum(1 for s in others if s in self.peers and self.peers[s].replied)
        if count >= len(self.servers) // 2:
            for p in self.peers.values():
                p.replied = False
            self._reset_election_timer()
        else:
            self._become_follower()
            self._event("StepDown", reason="lost quorum", replied=count)  # role after, as every event
            self._reset_election_timer()

    def _on_become_leader(self, msg: messages.BecomeLeader) -> None:
        """HandleTimeoutNow: the leader hands over to us; stand at once."""
        if self.role == FOLLOWER:
            self._start_election(prevote=False, transfer=True, action="HandleTimeoutNow",
                                 sender=msg.sender)
        else:
            self._event("HandleTimeoutNow", sender=msg.sender, ignored=True)

    # --- replication ----------------------------------------------------------------

    def _replicate_all(self, heartbeat: bool = False) -> None:
        for sid in sorted(self.peers):
            self._replicate(self.peers[sid], heartbeat)

    def _replicate(self, p: Peer, heartbeat: bool = False) -> None:
        """AppendEntries: pipelines up to max_inflight appends of up to max_batch
        entries each; sends a snapshot to a follower behind our log start."""
        if p.next_index < self.log.start:
            if not p.snapshot_sent:       # one at a time; resent when it seems lost
                self._send_snapshot(p)
            return
        sent = False
        while p.inflight < self.opts.max_inflight and p.next_index < self.log.end:
            self._send_append(p, self.log.slice(p.next_index, min(
                self.log.end, p.next_index + self.opts.max_batch)))
            sent = True
        if heartbeat and not sent and not p.inflight:
            self._send_append(p, [], comment="heartbeat")

    def _send_append(self, p: Peer, entries: list[Entry], comment: str | None = None) -> None:
        prev = p.next_index - 1
        prev_term = self.log.term_at(prev)
        assert prev_term is not None
        self._event("AppendEntries", follower=p.sid, prev=prev, n=len(entries),
                    commit=self.commit_index)
        self._send(messages.AppendRequest(sender=self.sid, to=p.sid, cluster=self.cid,
                                   term=self.term, prev_log_index=prev,
                                   prev_log_term=prev_term, leader_commit=self.commit_index,
                                   log=tuple(entries), comment=comment))
        if entries:
            p.next_index += len(entries)
            p.inflight += 1
            p.sent_at = self.now

    def _send_snapshot(self, p: Peer) -> None:
        snap = self.log.snapshot
        p.snapshot_sent = True
        p.sent_at = self.now
        self._event("AppendEntries", follower=p.sid, snapshot=snap.index)
        self._send(messages.InstallSnapshotRequest(
            sender=self.sid, to=p.sid, cluster=self.cid, term=self.term,
            last_index=snap.index, last_term=snap.term, last_eid=snap.eid,
            last_servers=dict(snap.servers), election_timer=snap.election_timer,
            data=snap.data))

    def _send_heartbeats(self) -> None:
        for p in self.peers.values():
            if (p.inflight or p.snapshot_sent) and not p.progress and (
                    self.now - p.sent_at >= self.election_timer // 3):
                # Nothing answered for a heartbeat interval: appends were lost; send
                # again from what the follower is known to hold (not below our log
                # start: an inconsistency reply tells if it needs the snapshot).
                p.next_index = max(p.match_index + 1, min(p.next_index, self.log.start))
                p.inflight = 0
                p.snapshot_sent = False
            p.progress = False
        self._replicate_all(heartbeat=True)
        for cmd in self.commands.values():
            if cmd.origin is not None:
                self._send(messages.ExecuteCommandReply(sender=self.sid, to=cmd.origin,
                                                 cluster=self.cid, result=cmd.result,
                                                 status=IN_PROGRESS))

    def _on_append_request(self, rq: messages.AppendRequest) -> None:
        """HandleAppendEntriesRequest."""
        if self.role == LEADER or self.leader_sid not in (None, rq.sender):
            # Another leader of this term: refuse, as raft.c does.
            self._reply_append(rq, "inconsistency", comment="usurped leadership")
            return
        self._become_follower()
        self._learn_leader(rq.sender)
        self._reset_election_timer()
        prev, entries = rq.prev_log_index, list(rq.log)
        want: int | None = rq.prev_log_term
        if prev < self.log.snapshot.index:
            # The head of the request is inside our snapshot: committed, hence equal.
            entries = entries[self.log.snapshot.index - prev:]
            prev, want = self.log.snapshot.index, self.log.snapshot.term
        prev_term = self.log.term_at(prev)
        if prev >= self.log.end or prev_term != want:
            self._event("HandleAppendEntriesRequest", leader=rq.sender,
                        prev=rq.prev_log_index, n=len(rq.log), ok=False)
            self._reply_append(rq, "inconsistency", comment=(
                "mismatch past end of log" if prev >= self.log.end else "term mismatch"))
            return
        records = []
        for i, e in enumerate(entries, prev + 1):
            if i < self.log.end:
                if self.log.term_at(i) == e.term:
                    continue
                self._truncate(i)
            if e.index != i:
                # On the wire an entry's index is its place after prev_log_index; a
                # message built in memory may not say so.
                e = replace(e, index=i)
            self.log.append(e)
            records.append(e)
        if records:
            self._write(*records, last_index=self.log.last_index)
        self._advance_follower_commit(min(rq.leader_commit, prev + len(entries)))
        # Logged once the entries are in: the commit index it reached picks out which
        # of the leader's requests (heartbeats differ only in leader_commit) this was.
        self._event("HandleAppendEntriesRequest", leader=rq.sender, prev=rq.prev_log_index,
                    n=len(rq.log), ok=True, commit=self.commit_index)
        comment = ("log updated" if records else
                   "heartbeat" if rq.comment == "heartbeat" else "no change")
        self._reply_append(rq, "OK", durable=True, comment=comment)

    def _reply_append(self, rq: messages.AppendRequest, result: str, comment: str,
                      durable: bool = False) -> None:
        rpy = messages.AppendReply(sender=self.sid, to=rq.sender, cluster=self.cid, term=self.term,
                            log_end=self.log.end, prev_log_index=rq.prev_log_index,
                            prev_log_term=rq.prev_log_term, n_entries=len(rq.log),
                            result=result, comment=comment)
        if durable:
            self._send_when_durable(rpy)
        else:
            self._send(rpy)

    def _on_append_reply(self, rpy: messages.AppendReply) -> None:
        """HandleAppendEntriesResponse."""
        p = self.peers.get(rpy.sender)
        self._event("HandleAppendEntriesResponse", follower=rpy.sender, result=rpy.result,
                    match=rpy.prev_log_index + rpy.n_entries, log_end=rpy.log_end)
        if self.role != LEADER or p is None:
            return
        p.replied = p.progress = True
        if rpy.n_entries:
            p.inflight = max(0, p.inflight - 1)
        if rpy.result == "OK":
            p.match_index = max(p.match_index, rpy.prev_log_index + rpy.n_entries)
            p.next_index = max(p.next_index, p.match_index + 1)
            self._advance_commit_index()
            self._joiner_caught_up(p)
        elif rpy.result == "inconsistency" and rpy.prev_log_index >= p.match_index:
            p.next_index = max(p.match_index + 1, min(rpy.log_end, rpy.prev_log_index))
            p.inflight = 0
        self._replicate(p)

    def _advance_commit_index(self) -> None:
        """AdvanceCommitIndex: the highest index a quorum holds, if of our term (Raft's
        Figure 8 rule: earlier terms' entries commit only beneath one of ours)."""
        if self.role != LEADER:
            return
        servers = self.servers
        for n in range(self.log.last_index, self.commit_index, -1):
            if self.log.term_at(n) != self.term and "figure8_commit" not in self.opts.bugs:
                break
            holders = sum(1 for s in servers if (
                self.durable_index if s == self.sid
                else self.peers[s].match_index if s in self.peers else 0) >= n)
            if 2 * holders > len(servers):
                self._event("AdvanceCommitIndex", commit=n)
                self._commit_to(n)
                # Tell the followers now, not at the next heartbeat: a follower
                # completes a forwarded transaction only once it knows the commit.
                self._replicate_all(heartbeat=True)
                break

    def _advance_follower_commit(self, index: int) -> None:
        if index > self.commit_index:
            self._commit_to(min(index, self.log.last_index))

    def _on_install_snapshot_request(self, rq: messages.InstallSnapshotRequest) -> None:
        """HandleInstallSnapshot: replace what we have by the leader's snapshot, keeping
        our suffix only when it continues the snapshot."""
        if self.role == LEADER or self.leader_sid not in (None, rq.sender):
            return self._drop(rq, "install_snapshot_request from a usurper")
        self._become_follower()
        self._learn_leader(rq.sender)
        self._reset_election_timer()
        self._event("HandleInstallSnapshot", leader=rq.sender, last_index=rq.last_index,
                    applied=self.commit_index)
        if rq.last_index > self.commit_index:
            snap = Snapshot(rq.last_index, rq.last_term, rq.last_eid, dict(rq.last_servers),
                            rq.election_timer, rq.data)
            self.log.compact(snap)
            for item in self._index_seq:
                item[1] = min(item[1], snap.index)
            self.commit_index = snap.index
            self.election_timer = (self.log.election_timer_through(snap.index)
                                   or DEFAULT_ELECTION_TIMER)
            self._rewrite()
            if "install_snapshot_keeps_old_data" not in self.opts.bugs:
                self._ready.snapshot = snap
                self._ready.committed.clear()
            self._complete_committed_commands(snap.index)
        self._send_when_durable(messages.InstallSnapshotReply(
            sender=self.sid, to=rq.sender, cluster=self.cid, term=self.term,
            last_index=rq.last_index, last_term=rq.last_term))

    def _on_install_snapshot_reply(self, rpy: messages.InstallSnapshotReply) -> None:
        p = self.peers.get(rpy.sender)
        self._event("HandleAppendEntriesResponse", follower=rpy.sender, snapshot=True,
                    match=rpy.last_index)
        if self.role != LEADER or p is None:
            return
        p.replied = p.progress = True
        p.snapshot_sent = False
        p.match_index = max(p.match_index, rpy.last_index)
        p.next_index = max(p.next_index, p.match_index + 1)
        p.inflight = 0
        self._advance_commit_index()
        self._joiner_caught_up(p)
        self._replicate(p)

    # --- commit ---------------------------------------------------------------------

    def _commit_to(self, index: int) -> None:
        first = self.commit_index + 1
        self.commit_index = index
        self._write(CommitIndex(index))
        self._emit_committed(first, index)

    def _emit_committed(self, first: int, last: int) -> None:
        for i in range(first, last + 1):
            e = self.log.entry(i)
            eid = str(e.eid) if e.eid is not None else None
            self._ready.committed.append(Committed(i, e.term, eid, e.data, e.servers))
            if e.election_timer:
                self.election_timer = e.election_timer
            if eid is not None:
                cmd = self.commands.get(eid)
                if cmd is not None and not (
                        cmd.forwarded and "forward_retry_after_commit" in self.opts.bugs):
                    self._complete(cmd, SUCCESS, i)
        for cmd in list(self.commands.values()):
            if cmd.forwarded and cmd.index and cmd.index <= last:
                self._complete(cmd, SUCCESS, cmd.index)
        self._on_committed(first, last)

    def _on_committed(self, first: int, last: int) -> None:
        self._membership_committed(first, last)

    # --- plumbing -------------------------------------------------------------------

    def _become_follower(self) -> None:
        if self.role != FOLLOWER:
            self.role = FOLLOWER
            self.votes = set()
            self.peers = {}
            self.leadership_transfer = False
            self.add_servers = {}         # joiners ask again; removals are re-requested
            self.remove_server = None

    def _learn_leader(self, sid: str) -> None:
        if self.leader_sid != sid:
            self.leader_sid = sid
            self._write(Leader(self.term, UUID(sid)))

    def _reset_election_timer(self) -> None:
        self.election_base = self.now
        self.election_deadline = (self.now + self.election_timer
                                  + self.rng.randrange(ELECTION_RANGE_MS))

    def _set_term(self, term: int, vote: str | None) -> int:
        if term > self.term:
            self.leader_sid = None
        self.term, self.vote = term, vote
        return self._write(term_record(term, vote))

    def _append(self, entry: Entry) -> int:
        index = self.log.append(entry)
        self._write(entry, last_index=index)
        return index

    def _truncate(self, index: int) -> None:
        self.log.truncate(index)
        self.durable_index = min(self.durable_index, index - 1)
        for item in self._index_seq:
            item[1] = min(item[1], index - 1)

    def _write(self, *records: FileRecord, last_index: int | None = None) -> int:
        self._seq += 1
        self._ready.persist.append(PersistOp(self._seq, tuple(records)))
        if last_index is not None:
            self._index_seq.append([self._seq, last_index])
        return self._seq

    def _rewrite(self) -> None:
        """Compaction: the whole file again (header, entries, term/vote, commit)."""
        snap = self.log.snapshot
        records: list[FileRecord] = [header(self.sid, self.cid, self.name, self.address, snap)]
        records += self.log.entries
        records.append(term_record(self.term, self.vote))
        if self.commit_index >= self.log.start:  # as raft.c: only past the snapshot
            records.append(CommitIndex(self.commit_index))
        self._seq += 1
        self._ready.persist.append(PersistOp(self._seq, tuple(records), rewrite=True))

    def _send(self, msg: messages.Message, address: str | None = None) -> None:
        self._ready.messages.append(Send(msg, address))

    def _send_when_durable(self, msg: messages.Message) -> None:
        if self._durable_seq >= self._seq:
            self._send(msg)
        else:
            self._held.append((self._seq, Send(msg)))

    def _event(self, action: str, **fields: Any) -> None:
        self._ready.events.append({"action": action, "server": self.sid, "term": self.term,
                                   "role": self.role, **fields})

    def _drop(self, msg: messages.Message, why: str) -> None:
        # Not a spec action: a log line for the shell ("logged and dropped").
        self._ready.dropped.append({"server": self.sid, "msg": msg.METHOD,
                                    "sender": msg.sender, "why": why})
