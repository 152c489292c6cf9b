"""A Raft log as OVS keeps it: a snapshot (everything up to ``snapshot.index``, as
``prev_*`` of the clustered file's header) followed by entries ``log_start ..
log_end - 1``, where ``log_start = snapshot.index + 1``.

Indices follow raft.c: ``log_end`` is one past the last entry, the last index is
``log_end - 1``, and index ``snapshot.index`` has term ``snapshot.term``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from reference.storage.cluster_records import Entry


@dataclass(frozen=True)
class Snapshot:
    """The state after applying every entry up to ``index`` (the header's prev_*)."""

    index: int
    term: int
    eid: str
    servers: dict[str, str]
    election_timer: int
    data: Any


class RaftLog:
    def __init__(self, snapshot: Snapshot, entries: list[Entry] | None = None) -> None:
        self.snapshot = snapshot
        self.start = snapshot.index + 1        # first index held as an entry
        self.entries: list[Entry] = []
        self._confs: list[int] = []            # indexes of entries with servers
        for e in entries or []:
            self.append(e)

    @property
    def end(self) -> int:
        return self.start + len(self.entries)

    @property
    def last_index(self) -> int:
        return self.end - 1

    def term_at(self, index: int) -> int | None:
        """The term of ``index``, or None when it is compacted away or past the end."""
        if index == self.snapshot.index:
            return self.snapshot.term
        if self.start <= index < self.end:
            return self.entries[index - self.start].term
        return None

    @property
    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.snapshot.term

    def entry(self, index: int) -> Entry:
        return self.entries[index - self.start]

    def slice(self, first: int, stop: int) -> list[Entry]:
        return self.entries[first - self.start:stop - self.start]

    def append(self, entry: Entry) -> int:
        if entry.index != self.end:
            raise ValueError(f"entry {entry.index} appended at index {self.end}")
        self.entries.append(entry)
        if entry.servers is not None:
            self._confs.append(self.last_index)
        return self.last_index

    def truncate(self, index: int) -> None:
        """Drops entries from ``index`` on."""
        del self.entries[index - self.start:]
        while self._confs and self._confs[-1] >= index:
            self._confs.pop()

    def eid_through(self, index: int) -> str:
        """The eid of the last entry with data at or before ``index``."""
        for i in range(min(index, self.last_index), self.start - 1, -1):
            e = self.entries[i - self.start]
            if e.data is not None:
                return str(e.eid)
        return self.snapshot.eid

    @property
    def current_eid(self) -> str:
        """The eid a forwarded command's prereq must equal (uncommitted entries too)."""
        return self.eid_through(self.last_index)

    def servers_through(self, index: int) -> dict[str, str]:
        """The configuration in force at ``index``: the last servers entry up to it."""
        for i in reversed(self._confs):
            if i <= index:
                return self.entries[i - self.start].servers  # type: ignore[return-value]
        return self.snapshot.servers

    def election_timer_through(self, index: int) -> int:
        for i in range(min(index, self.last_index), self.start - 1, -1):
            e = self.entries[i - self.start]
            if e.election_timer:
                return e.election_timer
        return self.snapshot.election_timer

    def compact(self, snapshot: Snapshot) -> None:
        """Replaces everything up to ``snapshot.index`` by the snapshot; keeps the
        entries after it when they continue it, else drops them all."""
        keep: list[Entry] = []
        if self.term_at(snapshot.index) == snapshot.term and snapshot.index <= self.last_index:
            keep = self.entries[snapshot.index + 1 - self.start:]
        self.snapshot = snapshot
        self.start = snapshot.index + 1
        self.entries = []
        self._confs = []
        for e in keep:
            self.append(e)

    def copy_snapshot(self, **changes: Any) -> Snapshot:
        return replace(self.snapshot, **changes)
