"""The seam between the server core and storage: a proposed change, and who commits it.

The server core never writes a change to its database itself.  It *proposes* the change
(a ``Proposal``) and applies it only when storage hands it back committed, the way etcd
raft's ``Ready``/``Advance`` separates deciding from doing.  Storage decides what
"committed" means and names the commit: it sets the change set's ``txn_id`` and
``date_ms``, or, when the change cannot be committed, ``error`` (the extra result
element ovsdb-server appends to a transaction whose commit failed) and nothing is
applied.

Standalone storage (standalone.py) commits inside ``propose`` and returns the answer.
Clustered storage (reference/raft/clustered_storage.py) returns None and answers later,
after replication, possibly refusing a proposal whose prerequisite no longer holds
(``retry``: the core runs the transaction again); a relay's storage will answer when its
source says so.  The core is written for both: proposals may be in flight while
other transactions execute against the committed contents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from reference.data.database import ChangeSet
from reference.data.schema import DatabaseSchema


# Mutable on purpose: storage fills in the outcome.  Slotted, not frozen: one is made per
# transaction, and a frozen dataclass is several times slower to build.
@dataclass(slots=True, eq=False)
class Proposal:
    """A change the core wants committed to ``database``, and how its commit went."""

    database: str
    changes: ChangeSet
    durable: bool = False
    schema: DatabaseSchema | None = None  # set: an online conversion to this schema
    error: dict | None = None             # set by storage when the commit failed
    retry: bool = False   # with error: refused, certainly not committed; run it again

    @property
    def committed(self) -> bool:
        return self.error is None and self.changes.txn_id is not None


class Storage(Protocol):
    busy: bool   # True: hold new transactions (one of ours is in flight, or refused)

    def propose(self, proposal: Proposal) -> Proposal | None:
        """The proposal, committed or failed, when decided at once; None when the
        answer comes later (handed to the core's ``advance`` by the shell)."""
