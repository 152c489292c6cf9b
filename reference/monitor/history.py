"""Bounded transaction history for monitor_cond_since, shared by every monitor group.

One entry per committed transaction: its id and its row changes (table -> uuid ->
(old, new)).  Rows are immutable and shared with the database, so an entry costs a few
pointers per changed row.  The history is bounded both by count (``max_txns``) and by
atoms (``max_atoms``: the atoms of the old and new row versions the entries hold, OVS's
measure; None means "no more atoms than the database holds", OVS's own bound).

``max_txns == 0`` disables history: every resume is answered found=false and the
reported last-txn-id is the zero UUID, exactly like a standalone ovsdb-server 3.1.  Any
positive bound is our documented extension: history in standalone mode too.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Any

ZERO_UUID = uuid.UUID(int=0)

# table -> uuid -> [old row | None, new row | None]
Merged = dict[str, dict[Any, list]]


def merge_into(acc: Merged, changes: dict[str, dict[Any, Any]]) -> None:
    """Fold one transaction's changes into ``acc``: per row keep the first old and the
    last new version, which is all a client needs to go from the old state to the new."""
    for table, rows in changes.items():
        dst = acc.setdefault(table, {})
        for row_uuid, change in rows.items():
            old, new = change[0], change[1]
            cur = dst.get(row_uuid)
            if cur is None:
                dst[row_uuid] = [old, new]
            else:
                cur[1] = new


class History:
    def __init__(self, max_txns: int = 100, max_atoms: int | None = None) -> None:
        self.max_txns = max_txns
        self.max_atoms = max_atoms
        self._entries: deque[tuple[uuid.UUID, dict, int]] = deque()
        self._atoms = 0
        self.last_txn_id: uuid.UUID = ZERO_UUID

    @property
    def enabled(self) -> bool:
        return self.max_txns > 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def atoms(self) -> int:
        return self._atoms

    def reported_id(self) -> uuid.UUID:
        """The last-txn-id we put on the wire (zero when history is off, as OVS does)."""
        return self.last_txn_id if self.enabled else ZERO_UUID

    def append(self, txn_id: uuid.UUID, changes: dict[str, dict[Any, Any]],
               db_atoms: int | None, atoms: int) -> None:
        """``atoms``: the entry's charge, which OVS makes the atoms of both versions of
        every row the transaction changed (measured against a clustered ovsdb-server
        3.1); the caller counts it.  ``db_atoms``: the database's atoms, the bound when
        ``max_atoms`` is None."""
        self.last_txn_id = txn_id
        if not self.enabled:
            return
        self._entries.append((txn_id, changes, atoms))
        self._atoms += atoms
        limit = self.max_atoms if self.max_atoms is not None else db_atoms
        while self._entries and (len(self._entries) > self.max_txns
                                 or (limit is not None and self._atoms > limit
                                     and len(self._entries) > 1)):
            _, _, a = self._entries.popleft()
            self._atoms -= a

    def since(self, txn_id: uuid.UUID) -> Merged | None:
        """The merged changes of every transaction after ``txn_id``, or None when
        ``txn_id`` is not in history (unknown, zero, or already dropped)."""
        if not self.enabled or txn_id == ZERO_UUID:
            return None
        if txn_id == self.last_txn_id:
            return {}
        for i, (tid, _, _) in enumerate(self._entries):
            if tid == txn_id:
                acc: Merged = {}
                for j in range(i + 1, len(self._entries)):
                    merge_into(acc, self._entries[j][1])
                return acc
        return None
