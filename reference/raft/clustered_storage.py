"""Clustered storage: the Storage of a database kept in a Raft log, as OVS 3.1 keeps it.

The core's proposals become Raft commands, and the database changes only by entries the
cluster committed, ours or another member's, in log order:

    propose(proposal)      a command with a fresh eid and prereq = the eid of the last
                           entry with data this database applied (OVS's ``db->prereq``);
                           answered later, through ``decisions``
    busy                   the core holds new transactions while this is true (OVS's
                           ``ovsdb_txn_precheck_prereq``): one of ours is in flight, no
                           leader is known, or the last refusal still stands
    decisions(ready, db)   what a node's Ready batch decided, as proposals for the core's
                           ``advance``, one at a time and in log order: our own proposals
                           committed or failed, other members' commits (their change
                           computed against the database as it stands when asked for),
                           and an installed snapshot (a whole new database, handed over
                           like a conversion)

A refused proposal ("not leader", "prerequisite check failed") certainly did not commit:
it comes back with ``retry`` set and the core runs the transaction again once the
refusal no longer stands (a new leader, or more of the log applied), as ovsdb-server's
triggers do.  Any other failure ("timeout", "lost leadership", ...) leaves the outcome
unknown and is reported to the client as a "cluster error".  Sans-I/O: the shell
(reference/server/cluster_shell.py) feeds the node and carries out its Ready batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from uuid import UUID

from reference.data.database import ChangeSet, Database, RowChange
from reference.data.schema import DatabaseSchema
from reference.data.uuidgen import uuid4
from reference.raft.node import RaftNode
from reference.raft.ready import BAD_PREREQ, NOT_LEADER, SUCCESS, Ready
from reference.storage.cluster_data import apply_data, change_data, snapshot_data
from reference.storage.proposal import Proposal
from reference.storage.records import file_record_changes

REFUSALS = frozenset({NOT_LEADER, BAD_PREREQ})


def whole_database(db: Database) -> ChangeSet:
    """The change that builds ``db`` from nothing (how a snapshot is handed over)."""
    return ChangeSet(tables={name: {u: RowChange(None, row) for u, row in t.rows.items()}
                             for name, t in db.tables.items()})


class ClusteredStorage:
    on_disk = True

    def __init__(self, node: RaftNode, schema: DatabaseSchema | None, *, applied_index: int,
                 applied_eid: str, clock: Callable[[], float] = time.time) -> None:
        self.node = node
        self.schema = schema           # None while joining: no snapshot yet
        self.applied_index = applied_index
        self.applied_eid = applied_eid
        self.pending: dict[str, Proposal] = {}   # eid -> our proposal in flight
        self._refused: tuple[str | None, str] | None = None  # (leader, eid) at refusal
        self._clock = clock
        self._rounds = 0   # elections timed out since a leader was last known
        self.on_propose: Callable[[], None] = lambda: None   # the shell's wake-up

    # -- the Storage protocol ---------------------------------------------------------------

    def propose(self, proposal: Proposal) -> Proposal | None:
        date_ms = int(self._clock() * 1000)
        if proposal.schema is not None:
            converted = Database(proposal.schema)
            converted.apply(proposal.changes)
            data: list | None = snapshot_data(converted, date_ms=date_ms)
        else:
            assert self.schema is not None, "a transaction on a database not yet joined"
            data = change_data(proposal.changes, self.schema, date_ms)
        if data is None:
            # Nothing persistent changes (ephemeral columns only): nothing to replicate,
            # committed at once, as ovsdb-server does.
            proposal.changes.txn_id = uuid4()
            proposal.changes.date_ms = date_ms
            return proposal
        eid = str(uuid4())
        self.pending[eid] = proposal
        self.node.propose(data, self.applied_eid, eid)
        self.on_propose()
        return None

    @property
    def busy(self) -> bool:
        if self.pending or self.schema is None:
            return True
        leader = self.node.leader_sid
        return leader is None or self._refused == (leader, self.applied_eid)

    @property
    def connected(self) -> bool:
        """``_Server.Database.connected`` as raft.c has it: false while joining or
        leaving, and from an election's second failed round on."""
        node = self.node
        return (self.schema is not None and not node.joining and not node.leaving
                and not node.left and self._rounds < 2)

    def observe(self, events: list[dict]) -> None:
        """Count failed election rounds from the node's trace events."""
        for ev in events:
            if ev["action"] == "Timeout":
                self._rounds += 1
        if self.node.leader_sid is not None:
            self._rounds = 0

    # -- what the cluster decided -----------------------------------------------------------

    def decisions(self, ready: Ready, db: Callable[[], Database]) -> Iterator[Proposal]:
        if ready.snapshot is not None and ready.snapshot.index > self.applied_index:
            snap = ready.snapshot
            yield self._replace(apply_data(None, snap.data), snap.index, snap.eid)
        for c in ready.committed:
            if c.index <= self.applied_index:
                continue
            self.applied_index = c.index
            if c.data is None:
                continue   # a no-op, a configuration or an election timer
            schema_json, txn = c.data
            assert c.eid is not None
            mine = self.pending.pop(c.eid, None)
            if schema_json is not None:
                converted = apply_data(None, c.data)
                if mine is not None:
                    mine.changes.txn_id = UUID(c.eid)
                    self.applied_eid, self.schema = c.eid, converted.schema
                    yield mine
                else:
                    yield self._replace(converted, c.index, c.eid)
                continue
            self.applied_eid = c.eid
            if mine is None:
                mine = Proposal(self._name(), file_record_changes(db(), txn))
            mine.changes.txn_id = UUID(c.eid)
            mine.changes.date_ms = txn.get("_date")
            yield mine
        for reply in ready.replies:
            mine = self.pending.pop(reply.result, None)
            if mine is None:
                continue
            if reply.status == SUCCESS:
                # Committed, yet never handed over entry by entry: an installed
                # snapshot covered it, and the database holds it already.
                mine.changes = ChangeSet(txn_id=UUID(reply.result))
            else:
                mine.error = {"error": "cluster error", "details": reply.status}
                if reply.status in REFUSALS:
                    mine.retry = True
                    self._refused = (self.node.leader_sid, self.applied_eid)
            yield mine

    def _replace(self, db: Database, index: int, eid: str) -> Proposal:
        self.applied_index, self.applied_eid, self.schema = index, eid, db.schema
        changes = whole_database(db)
        changes.txn_id = UUID(eid)
        return Proposal(db.schema.name, changes, schema=db.schema)

    def _name(self) -> str:
        assert self.schema is not None
        return self.schema.name

    # -- upkeep ---------------------------------------------------------------------------

    def compact(self, db: Database) -> None:
        """Snapshot the applied database into the log (followers only, as OVS)."""
        self.node.take_snapshot(self.applied_index, snapshot_data(
            db, comment="compacting database online"))

    def maybe_compact(self, db: Database) -> None:
        pass   # the shell's policy: see reference/server/cluster_shell.py

    def close(self) -> None:
        pass   # the shell owns the file
