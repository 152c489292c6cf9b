"""The node's output: one ``Ready`` batch per call, etcd-raft style.

The shell (or the simulator) handles a batch in this order: queue ``persist`` for
writing (each op in order; report ``node.persisted(op.seq)`` once that op and all
before it are durable); load ``snapshot`` if set, then apply ``committed``; send
``messages`` (at once: a message that must wait for durability, a vote_reply or an
append_reply, is held inside the node and appears in a later batch, after
``persisted``); hand ``replies`` to whoever proposed; keep ``events`` for traces; log
``dropped`` (messages refused: wrong cluster, unknown server, stale term, ...).

Trace events: one dict per spec/OvsdbRaft.tla action the node took, in order:
``{"action": NAME, "server": sid, "term": term after, "role": role after, ...details}``
with NAME one of Timeout, StartElection, HandleRequestVote, HandleRequestVoteResponse,
BecomeLeader, TransferLeadership, HandleTimeoutNow, ClientRequest, Forward,
HandleForward, ChangeMembership, AppendEntries (install_snapshot included),
HandleAppendEntriesRequest, HandleInstallSnapshot, HandleAppendEntriesResponse,
AdvanceCommitIndex, TakeSnapshot, Restart, StepDown.  Where raft.c goes beyond the spec
the event says so in a field: StepDown with ``reason: "lost quorum"`` (a leader's
step-down), Timeout with ``prevote``, HandleTimeoutNow with ``ignored``.  Events carry
what trace validation (spec/OvsdbRaftTrace.tla) needs to replay them: the fields are
listed in spec/README.md, "Raft trace events".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reference.raft.log import Snapshot
from reference.raft.messages import Message
from reference.storage.cluster_records import ClusterHeader, Record

# Statuses of command replies (execute_command_reply's strings).
IN_PROGRESS = "operation still in progress"
SUCCESS = "success"
NOT_LEADER = "not leader"
BAD_PREREQ = "prerequisite check failed"
LOST_LEADERSHIP = "lost leadership"
SHUTDOWN = "server shutdown"
TIMEOUT = "timeout"


@dataclass(frozen=True)
class PersistOp:
    """Records to write, as the storage layer's clustered-file values.  ``rewrite``:
    replace the whole file by ``records`` (header first) atomically, as compaction does."""

    seq: int
    records: tuple[ClusterHeader | Record, ...]
    rewrite: bool = False


@dataclass(frozen=True)
class Send:
    """A message to a peer: by sid, or by address when the sid is unknown (joining)."""

    message: Message
    address: str | None = None

    @property
    def to(self) -> str | None:
        return self.message.to


@dataclass(frozen=True)
class Committed:
    index: int
    term: int
    eid: str | None
    data: Any
    servers: dict[str, str] | None = None


@dataclass(frozen=True)
class CommandReply:
    """The outcome of ``propose`` (keyed by its result eid) or of a membership command
    (keyed by the command's name)."""

    result: str
    status: str
    commit_index: int = 0


@dataclass
class Ready:
    persist: list[PersistOp] = field(default_factory=list)
    snapshot: Snapshot | None = None
    committed: list[Committed] = field(default_factory=list)
    messages: list[Send] = field(default_factory=list)
    replies: list[CommandReply] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.persist or self.snapshot or self.committed or self.messages
                    or self.replies or self.events or self.dropped)
