"""A simulated member's disk: the bytes of its clustered file, in OVS's real framing,
split into what is durable (fsynced) and what is only written.  A crash keeps a random
prefix of the unsynced writes (the kernel may have flushed some) and may tear the last
one: cut it short at a random byte, which is exactly the damaged last record the storage
layer's file code finds and drops (``cluster_file.parse_file``), as OVS does."""

from __future__ import annotations

import random
from dataclasses import dataclass

from reference.raft.durable import FileRecord, to_json
from reference.raft.ready import PersistOp
from reference.storage.cluster_file import ClusterLog, parse_file
from reference.storage.log_file import CLUSTER_MAGIC, CorruptLogError, ParsedLog, encode_record


def encode(records: tuple[FileRecord, ...] | list[FileRecord]) -> list[bytes]:
    return [encode_record(to_json(r), CLUSTER_MAGIC) for r in records]


@dataclass
class _Write:
    """One PersistOp as the bytes it writes."""

    seq: int
    records: list[bytes]
    rewrite: bool


class Disk:
    def __init__(self, records: list[FileRecord], name: str = "sim.db") -> None:
        self.name = name
        self.data = bytearray(b"".join(encode(records)))   # the file, as written
        self.pending: list[_Write] = []                      # written, not fsynced
        self.torn_writes = 0
        # A crashed member's file is read at the crash (for the checks) and again at its
        # restart, unchanged in between: parse it once.
        self._parsed: tuple[ParsedLog, ClusterLog] | None = None   # None after a change

    def write(self, op: PersistOp) -> None:
        # Encoded now, as the shell would serialise before writing.
        self.pending.append(_Write(op.seq, encode(op.records), op.rewrite))

    def sync(self, up_to: int) -> None:
        """fsync completed for every op with seq <= up_to."""
        n = 0
        while n < len(self.pending) and self.pending[n].seq <= up_to:
            self._apply(self.pending[n])
            n += 1
        del self.pending[:n]

    def _apply(self, w: _Write) -> None:
        self._parsed = None
        if w.rewrite:
            # Compaction writes NAME.tmp and renames it over the file: all or nothing.
            self.data = bytearray(b"".join(w.records))
        else:
            self.data += b"".join(w.records)

    def crash(self, rng: random.Random) -> str:
        """Loses what was not fsynced, except a random prefix; maybe tears the last
        record.  Returns what happened, for the schedule."""
        n = len(self.pending)
        keep = rng.randint(0, n) if n else 0
        for w in self.pending[:keep]:
            self._apply(w)
        torn = False
        last = self.pending[keep - 1] if keep else None
        if last is not None and not last.rewrite and last.records and rng.random() < 0.3:
            # The last record made it only in part: 1 .. len-1 of its bytes.
            size = len(last.records[-1])
            del self.data[len(self.data) - size + rng.randint(1, size - 1):]
            self._parsed = None
            self.torn_writes += 1
            torn = True
        self.pending = []
        return f"kept {keep}/{n} unsynced writes{', tore the last record' if torn else ''}"

    def image(self) -> ClusterLog:
        """What the file says, as a read-only look sees it (a torn last record ignored);
        ClusterFormatError or CorruptLogError for a file the storage layer refuses."""
        return self._parse()[1]

    def reopen(self) -> ClusterLog:
        """What a restarted member reads, truncating a torn last record away first, as
        ``ClusterFile.open`` does."""
        parsed, state = self._parse()
        if parsed.good_end < len(self.data):
            del self.data[parsed.good_end:]
            self._parsed = None
        return state

    def _parse(self) -> tuple[ParsedLog, ClusterLog]:
        if self._parsed is not None:
            return self._parsed
        parsed, state = parse_file(bytes(self.data), self.name)
        if parsed.bad is not None and not parsed.torn_tail:
            # A crash tears only the last record: damage before a valid one is a bug here.
            raise CorruptLogError(f"{parsed.bad.message}; a valid record follows")
        self._parsed = parsed, state
        return parsed, state
