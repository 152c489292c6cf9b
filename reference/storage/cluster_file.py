"""OVS 3.1's clustered database file: replay, durable appends, compaction, creation.

The file is the standalone file's framing with the ``OVSDB CLUSTER`` magic (shared code
in ``reference.storage.log_file``): a header record, then Raft records (the values in
``reference.storage.cluster_records``).  What a Raft node's storage needs::

    f, state = ClusterFile.open(path)     # lock, read, replay; state: ClusterLog
    state.header, state.entries, state.term, state.vote, state.commit_index, ...
    f.append([Entry(...), Vote(...), CommitIndex(...)], durable=True)  # one write+fsync
    f.compact(applied_index, data)         # new header from applied_index, NAME.tmp+rename
    f.install_snapshot(...)                # a leader's snapshot (or the end of a join)
    f.close()

    create_cluster(path, schema_json, data, local_address, election_timer=0)
    join_cluster(path, name, local_address, remote_addresses, cid=None)
    read_cluster(path) -> ClusterLog       # read only, no lock (show-log, db-cid, ...)

Replay follows raft.c's ``raft_apply_record``: a term above the current one resets the
vote; an entry whose index is below the log's end truncates the log there; refused
are an entry that skips past the log's end, one below the commit index, one whose term
precedes the previous entry's, a vote for an older term or a second different vote in
one term, a commit index that goes back or past the log, and a ``left`` note (the
server left; it cannot come back under this identity).  Appends are checked by the same
rules before they reach the disk, so a wrong record from the node fails loudly here.

Damage: like ovsdb-server, a damaged last record (a torn append) is logged and ignored;
we also truncate it away at once.  A damaged record followed by a valid one is not a
torn append, and we refuse to open (``CorruptLogError``) rather than drop what follows,
where ovsdb-server would silently drop it.
"""

from __future__ import annotations

import logging
import os
import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from uuid import UUID

from reference.storage import log_file
from reference.storage.cluster_records import (
    ClusterFormatError,
    ClusterHeader,
    CommitIndex,
    Entry,
    Leader,
    Note,
    Record,
    Term,
    Vote,
    address_problem,
    header_to_json,
    parse_header,
    parse_record,
    record_to_json,
)
from reference.storage.log_file import CLUSTER_MAGIC, CorruptLogError, StorageError

log = logging.getLogger("reference.storage")

MIN_ELECTION_TIMER, MAX_ELECTION_TIMER = 100, 600_000


# ---------------------------------------------------------------------------
# The replayed state (pure)
# ---------------------------------------------------------------------------

@dataclass
class ClusterLog:
    """What a clustered file says: its header, the log after the snapshot, the current
    term and vote, the commit index, and the last leader recorded for the term."""

    header: ClusterHeader
    entries: list[Entry] = field(default_factory=list)
    term: int = 0
    vote: UUID | None = None
    commit_index: int = 0
    leader: UUID | None = None
    n_records: int = 0          # records after the header, for error messages

    def __post_init__(self) -> None:
        # As raft_read_header: the snapshot is committed, but the current term comes
        # only from the records (a new cluster's file has none: term 0 until its first
        # election; compaction always writes a term record).
        self.commit_index = max(self.commit_index, self.header.prev_index)

    # -- the log -------------------------------------------------------------------------
    @property
    def log_start(self) -> int:
        """Index of the first entry after the snapshot."""
        return self.header.prev_index + 1

    @property
    def log_end(self) -> int:
        """One past the last entry's index."""
        return self.log_start + len(self.entries)

    def entry(self, index: int) -> Entry:
        if not self.log_start <= index < self.log_end:
            raise IndexError(f"no entry {index} in log [{self.log_start}, {self.log_end})")
        return self.entries[index - self.log_start]

    def term_at(self, index: int) -> int:
        return self.header.prev_term if index == self.log_start - 1 else self.entry(index).term

    def eid_at(self, index: int) -> UUID | None:
        """The eid of the last entry with data at or before `index` (else the snapshot's)."""
        for i in range(index, self.log_start - 1, -1):
            e = self.entry(i)
            if e.data is not None:
                return e.eid
        return self.header.prev_eid

    def servers_at(self, index: int) -> dict[str, str] | None:
        servers = self.header.prev_servers
        for i in range(self.log_start, index + 1):
            if self.entry(i).servers is not None:
                servers = self.entry(i).servers
        return servers

    def election_timer_at(self, index: int) -> int:
        timer = self.header.prev_election_timer
        for i in range(self.log_start, index + 1):
            if self.entry(i).election_timer:
                timer = self.entry(i).election_timer
        return timer

    @property
    def servers(self) -> dict[str, str] | None:
        """The latest configuration (committed or not), as raft.c uses it."""
        return self.servers_at(self.log_end - 1)

    @property
    def election_timer(self) -> int:
        """The latest election timer (0: the default, 1000 ms)."""
        return self.election_timer_at(self.log_end - 1)

    # -- replay ----------------------------------------------------------------------------
    def apply(self, r: Record) -> None:
        """Apply one record, as raft_apply_record does; ClusterFormatError if refused."""
        self.n_records += 1
        n = self.n_records
        term = getattr(r, "term", 0)
        if term > self.term:
            self.term, self.vote, self.leader = term, None, None
        if isinstance(r, Entry):
            self._apply_entry(n, r)
        elif isinstance(r, Vote):
            if r.term < self.term:
                raise ClusterFormatError(f"record {n} votes for term {r.term} but current "
                                         f"term is {self.term}")
            if self.vote is not None and self.vote != r.vote:
                raise ClusterFormatError(f"record {n} votes for {str(self.vote)[:4]} in term "
                                         f"{r.term} but a previous record for the same term "
                                         f"voted for {str(r.vote)[:4]}")
            self.vote = r.vote
        elif isinstance(r, Note):
            if r.note == "left":
                raise ClusterFormatError(
                    f'record {n} indicates server has left the cluster; it cannot be added '
                    f'back (use "ovsdb-tool join-cluster" to add a new server)')
        elif isinstance(r, CommitIndex):
            if r.commit_index < self.commit_index:
                raise ClusterFormatError(f"record {n} regresses commit index from "
                                         f"{self.commit_index} to {r.commit_index}")
            if r.commit_index >= self.log_end:
                raise ClusterFormatError(f"record {n} advances commit index to "
                                         f"{r.commit_index} but last log index is "
                                         f"{self.log_end - 1}")
            self.commit_index = r.commit_index
        elif isinstance(r, Leader):
            if r.term == self.term:
                self.leader = r.leader
        elif not isinstance(r, Term):
            raise TypeError(f"not a cluster record: {r!r}")

    def _apply_entry(self, n: int, r: Entry) -> None:
        if r.index < self.commit_index:
            raise ClusterFormatError(f"record {n} attempts to truncate log from "
                                     f"{self.log_end} to {r.index} entries, but commit "
                                     f"index is already {self.commit_index}")
        if r.index > self.log_end:
            raise ClusterFormatError(f"record {n} with index {r.index} skips past "
                                     f"expected index {self.log_end}")
        if r.index < self.log_start:
            # the snapshot's own index (OVS's checks above pass it): nothing to replace
            raise ClusterFormatError(f"record {n} with index {r.index} precedes the "
                                     f"log's start {self.log_start}")
        if r.index < self.log_end:
            log.debug("record %d truncates log from %d to %d entries", n, self.log_end,
                      r.index)
            del self.entries[r.index - self.log_start:]
        prev_term = self.entries[-1].term if self.entries else self.header.prev_term
        if r.term < prev_term:
            raise ClusterFormatError(f"record {n} with index {r.index} term {r.term} "
                                     f"precedes previous entry's term {prev_term}")
        self.entries.append(r)


def replay(header: ClusterHeader, records: Iterable[Record]) -> ClusterLog:
    """The state a header and the records after it describe.  A server that has not
    joined yet reads nothing after its header, as raft.c does."""
    state = ClusterLog(header)
    if header.joining:
        return state
    for r in records:
        try:
            state.apply(r)
        except ClusterFormatError as e:
            raise ClusterFormatError(f"error reading record {state.n_records} from "
                                     f"{header.name} log: {e}") from None
    return state


def parse_file(data: bytes, name: str) -> tuple[log_file.ParsedLog, ClusterLog]:
    """Frame-level parse plus strict record parsing and replay (sans-I/O).  Damage in
    the framing is reported in the ParsedLog, not raised; the records before it are
    replayed.  Raises ClusterFormatError for a record that breaks the format or the
    replay rules, StorageError for a file that is not clustered."""
    if log_file.identify(data) != CLUSTER_MAGIC:
        raise StorageError(f"{name}: not a clustered database" if data else
                           f"{name}: cannot identify file type (empty file)")
    parsed = log_file.parse_log(data, name, CLUSTER_MAGIC)
    if not parsed.records:
        assert parsed.bad is not None
        raise CorruptLogError(f"{parsed.bad.message}; the header record is damaged, so the "
                              f"database cannot be opened")
    try:
        header = parse_header(parsed.records[0])
    except ClusterFormatError as e:
        raise ClusterFormatError(f"{name}: header: {e}") from None
    records = []
    # A server that has not joined yet reads nothing after its header (raft_open).
    for i, obj in enumerate([] if header.joining else parsed.records[1:], 1):
        try:
            records.append(parse_record(obj))
        except ClusterFormatError as e:
            raise ClusterFormatError(f"error reading record {i} from {header.name} log: "
                                     f"{e}") from None
    return parsed, replay(header, records)


def read_cluster(path: str) -> ClusterLog:
    """Read-only look (no lock, no repair): a torn last record is ignored, damage with
    valid records after it is refused."""
    with open(path, "rb") as f:
        data = f.read()
    parsed, state = parse_file(data, path)
    _check_damage(path, parsed)
    return state


def _check_damage(path: str, parsed: log_file.ParsedLog) -> None:
    if parsed.bad is not None and not parsed.torn_tail:
        raise CorruptLogError(
            f"{parsed.bad.message}; a valid record follows at offset "
            f"{parsed.valid_after_bad}, so this is damage in the middle of the log, not a "
            f"torn last write.  Refusing to open rather than drop later records "
            f"(ovsdb-server would drop them)")


# ---------------------------------------------------------------------------
# The open file
# ---------------------------------------------------------------------------

class ClusterFile(log_file.AppendOnlyFile):
    """An open clustered file, locked, positioned for appends, with its replayed state
    kept current as records are appended."""

    def __init__(self, path: str, fd: int, lock_fd: int | None, size: int,
                 state: ClusterLog) -> None:
        super().__init__(path, fd, lock_fd, size)
        self.state = state

    @classmethod
    def open(cls, path: str, *, lock: bool = True) -> tuple["ClusterFile", ClusterLog]:
        """Open for appending.  A torn last record is logged and truncated away (fsynced);
        a file OVS would refuse (bad record, replay error, `left` note, a server not in
        its own configuration) raises ClusterFormatError; damage in the middle raises
        CorruptLogError."""
        def load(fd: int, lock_fd: int | None) -> tuple[ClusterFile, ClusterLog]:
            data = log_file.read_fd(fd)
            parsed, state = parse_file(data, path)
            _check_damage(path, parsed)
            h = state.header
            if not h.joining and str(h.sid) not in (state.servers or {}):
                raise ClusterFormatError(f"{path}: server does not belong to cluster")
            if parsed.bad is not None:
                log.warning("%s", parsed.bad.message)
                log.warning("%s: truncating %d bytes of a torn last record at offset %d",
                            path, len(data) - parsed.good_end, parsed.good_end)
                os.ftruncate(fd, parsed.good_end)
                os.fsync(fd)
            return cls(path, fd, lock_fd, parsed.good_end, state), state

        return cls._open_locked(path, lock, load)

    # -- write -------------------------------------------------------------------------
    def append(self, records: Iterable[Record | dict], durable: bool = True) -> None:
        """Append records in one write; with `durable` (the default: Raft acknowledges
        only what is on disk) fsync before returning.  A record may also come as its
        JSON object (OVS's shape), parsed as strictly as on read.  Each record is first
        checked by the replay rules; a refused record raises ClusterFormatError and
        nothing of the batch is written."""
        records = [parse_record(r) if isinstance(r, dict) else r for r in records]
        trial = _copy_state(self.state)
        for r in records:
            trial.apply(r)
        data = b"".join(log_file.encode_record(record_to_json(r), CLUSTER_MAGIC)
                        for r in records)
        self._append_bytes(data, durable)
        self.state = trial

    # -- a live Raft member's writes ----------------------------------------------------
    # The member's node has applied raft.c's rules already, so records go to disk as
    # they are, without another replay per append; ``state`` stays as opened.
    def write_records(self, records: Iterable[ClusterHeader | Record]) -> None:
        """Append records (not yet durable: ``commit()`` fsyncs)."""
        self._append_bytes(_encode(records), durable=False)

    def rewrite_records(self, records: Iterable[ClusterHeader | Record]) -> None:
        """Replace the whole file by ``records`` (header first), crash-safe, durable."""
        self._replace(_encode(records))

    # -- compaction --------------------------------------------------------------------
    def compact(self, applied_index: int, data: Any) -> None:
        """Replace the log up to `applied_index` by `data` (``[schema, txn]``, the whole
        database at that index), as raft_store_snapshot does: the new header takes
        prev_term, prev_eid and prev_servers at that index and the current election
        timer; the later entries, the term and vote, and the commit index follow."""
        s = self.state
        if s.header.joining:
            raise StorageError(f"{self.path}: cannot store a snapshot while joining cluster")
        if applied_index < s.log_start:
            raise StorageError(f"{self.path}: not storing a duplicate snapshot")
        if applied_index >= s.log_end:
            raise StorageError(f"{self.path}: cannot compact to index {applied_index}: "
                               f"the log ends at {s.log_end - 1}")
        header = replace(s.header, prev_index=applied_index, prev_term=s.term_at(applied_index),
                         prev_eid=s.eid_at(applied_index),
                         prev_servers=s.servers_at(applied_index),
                         prev_election_timer=s.election_timer, prev_data=data)
        self._rewrite(header, s.entries[applied_index + 1 - s.log_start:])

    def install_snapshot(self, *, cid: UUID, prev_index: int, prev_term: int,
                         prev_eid: UUID | None, prev_servers: dict[str, str],
                         prev_election_timer: int, data: Any) -> None:
        """Take a snapshot from the leader (install_snapshot_request; also how a joining
        server becomes a member).  Entries after it survive only if the log holds the
        snapshot's last entry with the same term (the Raft rule)."""
        s = self.state
        keep: list[Entry] = []
        if (not s.header.joining and s.log_start <= prev_index < s.log_end
                and s.entry(prev_index).term == prev_term):
            keep = s.entries[prev_index + 1 - s.log_start:]
        header = replace(s.header, cid=cid, remote_addresses=None, prev_index=prev_index,
                         prev_term=prev_term, prev_eid=prev_eid, prev_servers=prev_servers,
                         prev_election_timer=prev_election_timer, prev_data=data)
        self._rewrite(header, keep)

    def _rewrite(self, header: ClusterHeader, entries: list[Entry]) -> None:
        """Write header, entries, term/vote and commit index to NAME.tmp, fsync, rename
        over the file, fsync the directory: the old file is intact until the rename."""
        old = self.state
        new = ClusterLog(header)
        records: list[Record] = [*entries, Vote(old.term, old.vote) if old.vote
                                 else Term(old.term)]
        if old.commit_index >= header.prev_index + 1:
            records.append(CommitIndex(old.commit_index))
        for r in records:
            new.apply(r)
        if old.leader is not None and new.term == old.term:
            new.leader = old.leader
        blob = log_file.encode_record(header_to_json(header), CLUSTER_MAGIC) + b"".join(
            log_file.encode_record(record_to_json(r), CLUSTER_MAGIC) for r in records)
        self._replace(blob)
        self.state = new


def _encode(records: Iterable[ClusterHeader | Record]) -> bytes:
    return b"".join(log_file.encode_record(
        header_to_json(r) if isinstance(r, ClusterHeader) else record_to_json(r),
        CLUSTER_MAGIC) for r in records)


def _copy_state(s: ClusterLog) -> ClusterLog:
    # Entries are immutable values, so a shallow copy of the list is a full copy.
    return replace(s, entries=list(s.entries))


# ---------------------------------------------------------------------------
# New files
# ---------------------------------------------------------------------------

def _write_new(path: str, records: list[dict]) -> None:
    blob = b"".join(log_file.encode_record(r, CLUSTER_MAGIC) for r in records)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    except FileExistsError:
        raise StorageError(f"{path}: create failed (File exists)") from None
    except OSError as e:
        raise StorageError(f"{path}: create failed ({e.strerror})") from None
    try:
        log_file.write_all(fd, blob)
        os.fsync(fd)
    finally:
        os.close(fd)
    log_file.fsync_dir(path)


def election_timer_problem(ms: int) -> str | None:
    if not MIN_ELECTION_TIMER <= ms <= MAX_ELECTION_TIMER:
        return (f"election timer must be between {MIN_ELECTION_TIMER} and "
                f"{MAX_ELECTION_TIMER}, in msec.")
    return None


def create_cluster(path: str, name: str, data: Any, local_address: str,
                   election_timer: int = 0) -> ClusterHeader:
    """A new one-server cluster, as raft_create_cluster writes it: a header with a new
    sid and cid, prev_index 1, prev_term 1, a random prev_eid, prev_data `data`
    (``[schema, txn]``) and this server alone in prev_servers; with an election timer,
    an entry ``{"term":1,"index":2,"election_timer":N}``."""
    problem = address_problem(local_address) or (
        election_timer_problem(election_timer) if election_timer else None)
    if problem:
        raise StorageError(problem)
    sid = uuidlib.uuid4()
    header = ClusterHeader(sid=sid, name=name, local_address=local_address,
                           cid=uuidlib.uuid4(), prev_servers={str(sid): local_address},
                           prev_index=1, prev_term=1, prev_eid=uuidlib.uuid4(),
                           prev_data=data)
    records = [header_to_json(header)]
    if election_timer:
        records.append(record_to_json(Entry(term=1, index=2,
                                            election_timer=election_timer)))
    _write_new(path, records)
    return header


def join_cluster(path: str, name: str, local_address: str, remote_addresses: list[str],
                 cid: UUID | None = None) -> ClusterHeader:
    """The file of a server that will join an existing cluster (raft_join_cluster)."""
    if not remote_addresses:
        raise StorageError("at least one remote address is required")
    for a in [local_address, *remote_addresses]:
        problem = address_problem(a)
        if problem:
            raise StorageError(problem)
    if local_address in remote_addresses:
        raise StorageError("remote addresses cannot be the same as the local address")
    if cid is not None and cid.int == 0:
        raise StorageError("all-zero UUID is not valid cluster ID")
    header = ClusterHeader(sid=uuidlib.uuid4(), name=name, local_address=local_address,
                           cid=cid, remote_addresses=tuple(dict.fromkeys(remote_addresses)))
    _write_new(path, [header_to_json(header)])
    return header
