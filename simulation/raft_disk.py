"""A simulated member's disk: records the node asked to persist, split into what is
durable (fsynced) and what is only written.  A crash keeps a random prefix of the
unsynced writes (the kernel may have flushed some) and may tear the last one; a torn
last record is dropped on restart, as OVS drops a damaged last record."""

from __future__ import annotations

import random
from typing import Any

from reference.raft.ready import PersistOp

TORN = {"__torn__": True}  # stands for a damaged last record


class Disk:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records: list[dict[str, Any]] = list(records)   # the file, as written
        self.pending: list[PersistOp] = []                   # written, not fsynced
        self.torn_writes = 0

    def write(self, op: PersistOp) -> None:
        self.pending.append(op)

    def sync(self, up_to: int) -> None:
        """fsync completed for every op with seq <= up_to."""
        while self.pending and self.pending[0].seq <= up_to:
            self._apply(self.pending.pop(0))

    def _apply(self, op: PersistOp) -> None:
        if self.records and self.records[-1] is TORN:
            self.records.pop()
        if op.rewrite:
            # Compaction writes NAME.tmp and renames it over the file: all or nothing.
            self.records = list(op.records)
        else:
            self.records.extend(op.records)

    def crash(self, rng: random.Random) -> str:
        """Loses what was not fsynced, except a random prefix; maybe tears the last
        record.  Returns what happened, for the schedule."""
        n = len(self.pending)
        keep = rng.randint(0, n) if n else 0
        for op in self.pending[:keep]:
            self._apply(op)
        torn = False
        last = self.pending[keep - 1] if keep else None
        if last is not None and not last.rewrite and last.records and rng.random() < 0.3:
            # The last record made it only in part.
            self.records[-1] = TORN
            self.torn_writes += 1
            torn = True
        self.pending = []
        return f"kept {keep}/{n} unsynced writes{', tore the last record' if torn else ''}"

    def image(self) -> list[dict[str, Any]]:
        """What a restarted member reads: the file without a torn last record."""
        if self.records and self.records[-1] is TORN:
            return self.records[:-1]
        return list(self.records)
