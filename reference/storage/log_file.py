"""The standalone OVSDB file: framing, reading, durable appends and compaction.

A standalone database file is a sequence of records, each

    OVSDB JSON <len> <sha1>\\n<json>\\n

where ``<len>`` counts the JSON text *including* its trailing newline and ``<sha1>`` is
the lowercase hex SHA-1 of exactly those ``<len>`` bytes (checked against files
``ovsdb-tool create`` and ``ovsdb-server`` 3.1 wrote).  Record 0 is the schema; every
later record is a JSON object describing one transaction (or, after compaction, the whole
database).  What goes *inside* a transaction record belongs to ``reference.storage.records``
(``changes_to_file_record``, ``apply_file_record``, ``database_to_file_record``); this
module only frames, checks, stores and replaces records.

API (the server calls these on its event loop thread; all are plain blocking file I/O)::

    log, schema_json, records = LogFile.open(path)      # read all, repair a torn tail
    log.append(record, durable=False)   # dict or pre-serialised JSON bytes; durable -> fsync
    log.should_compact(now=None) -> bool # OVS 3.1's automatic compaction policy
    log.compact(schema_json, snapshot_record)   # atomic replace: temp file, fsync, rename
    log.close()

Pure helpers: ``encode_record(obj)``, ``parse_log(data, name)`` (sans-I/O: bytes in,
records and a verdict out), ``create(path, schema_json)`` for ``crucible db create``.
The framing, the damage rules and the lock are shared with the clustered file
(``reference.storage.cluster_file``): the same functions with ``magic=CLUSTER_MAGIC``.

Damage on open.  ``ovsdb-server`` 3.1 stops reading at the first bad record, logs the
error (``syntax error: F: ... have SHA-1 hash X but should have hash Y``, ``I/O error:
F: error reading N bytes starting at offset O (End of file)``, ``parse error at offset
O in header line "..."``) and truncates the file there on its next write, *even when
good records follow*, silently dropping them (tried: flipping one byte in the middle of
a 4-record file loses the last record).  ``ovsdb-tool`` refuses such files.  We do what
OVS does for a damaged *tail* (nothing valid after the bad record: a torn or partly
written last record): log the same message at ERROR and truncate at once (fsynced).  A
bad record *followed by a valid one* cannot come from a process crash of an
append-only writer (it can from a power failure with unsynced writes, or from disk or
operator damage), so we refuse to open (``CorruptLogError``) instead of silently throwing
acknowledged data away; ``open(..., repair=True)`` (``crucible db repair``) does what
OVS would do.

Locking: like ovsdb-server and ``ovsdb-tool transact``, a writer takes an fcntl lock on
``.NAME.~lock~`` next to the file, so our server and the real one exclude each other.

Automatic compaction (OVS 3.1 ``ovsdb_storage_should_snapshot``): not before a random
time 10-20 min after open or the last compaction; then compact if at least 100 records
were read or written since open and the file is over 10 MiB and more than twice its size
right after the last compaction; once a day compact if anything at all was logged.  A
failed compaction is retried 1-2 min later.  Thresholds live in ``CompactionPolicy`` so
tests can shrink them.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

import orjson

log = logging.getLogger("reference.storage")
T = TypeVar("T")

MAGIC = b"OVSDB JSON"
CLUSTER_MAGIC = b"OVSDB CLUSTER"
# ovsdb-server reads the header line with fgets into a small buffer; a longer "line"
# is a parse error there too.
MAX_HEADER = 128
_HEADER_RES = {magic: re.compile(re.escape(magic) + rb" ([0-9]{1,20}) ([0-9a-f]{40})\n")
               for magic in (MAGIC, CLUSTER_MAGIC)}


class StorageError(Exception):
    """A database file cannot be used; the message says why and what to do."""


class CorruptLogError(StorageError):
    """A record before the last valid one is damaged (or the schema record is)."""


class LockedError(StorageError):
    """Another process (ovsdb-server, ovsdb-tool, another crucible) holds the file."""


# ---------------------------------------------------------------------------
# Pure framing
# ---------------------------------------------------------------------------

def frame(body: bytes, magic: bytes = MAGIC) -> bytes:
    """Frame already-serialised JSON (without or with its trailing newline).  `magic` is
    MAGIC for a standalone file, CLUSTER_MAGIC for a clustered one."""
    if not body.endswith(b"\n"):
        body += b"\n"
    return b"%s %d %s\n%s" % (magic, len(body), hashlib.sha1(body).hexdigest().encode(), body)


def encode_record(obj: Any, magic: bytes = MAGIC) -> bytes:
    """One framed record for a JSON object, exactly as ovsdb-server lays it out."""
    if not isinstance(obj, dict):
        raise TypeError(f"an OVSDB file record must be a JSON object, not {type(obj).__name__}")
    return frame(orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE), magic)


def identify(data: bytes) -> bytes | None:
    """The magic of a file that starts with `data` (MAGIC or CLUSTER_MAGIC), or None."""
    for magic in (MAGIC, CLUSTER_MAGIC):
        if data.startswith(magic + b" "):
            return magic
    return None


@dataclass
class BadRecord:
    offset: int   # where the bad record's header starts
    message: str  # OVS-style text, without the "syntax error: " style prefix


@dataclass
class ParsedLog:
    records: list[dict]                     # record 0 is the schema
    offsets: list[int]                      # header offset of each good record
    good_end: int                           # bytes up to the end of the last good record
    bad: BadRecord | None = None            # the first damaged record, if any
    valid_after_bad: int | None = None      # offset of a valid record after `bad`, if any

    @property
    def torn_tail(self) -> bool:
        """Damage only at the end: what a crash during an append leaves behind."""
        return self.bad is not None and self.valid_after_bad is None


def _parse_one(data: bytes, pos: int, name: str,
               magic: bytes = MAGIC) -> tuple[dict | None, int, str | None]:
    """Parse the record at `pos`: (object, end offset, None) or (None, pos, error)."""
    nl = data.find(b"\n", pos, pos + MAX_HEADER)
    line = data[pos:nl + 1] if nl >= 0 else data[pos:pos + MAX_HEADER - 1]
    m = _HEADER_RES[magic].fullmatch(line)
    if not m:
        shown = line.rstrip(b"\n").decode("utf-8", "replace")
        return None, pos, f'syntax error: {name}: parse error at offset {pos} in header line "{shown}"'
    length, expected = int(m.group(1)), m.group(2).decode()
    start = pos + len(line)
    body = data[start:start + length]
    if len(body) != length:
        return None, pos, (f"I/O error: {name}: error reading {length} bytes starting at "
                           f"offset {start} (End of file)")
    actual = hashlib.sha1(body).hexdigest()
    if actual != expected:
        return None, pos, (f"syntax error: {name}: {length} bytes starting at offset {start} "
                           f"have SHA-1 hash {actual} but should have hash {expected}")
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        return None, pos, (f"syntax error: {name}: {length} bytes starting at offset {start} "
                           f"are not valid JSON ({e})")
    if not isinstance(obj, dict):
        return None, pos, (f"syntax error: {name}: {length} bytes starting at offset {start} "
                           f"are not a JSON object")
    return obj, start + length, None


def parse_log(data: bytes, name: str = "db", magic: bytes = MAGIC) -> ParsedLog:
    """Split a whole file (standalone, or clustered with CLUSTER_MAGIC) into records;
    never raises on damage.

    After the first bad record, look for any *valid* record further on: that is what
    tells a torn tail (repairable) from damage in the middle (refuse).
    """
    records: list[dict] = []
    offsets: list[int] = []
    pos = 0
    while pos < len(data):
        obj, end, err = _parse_one(data, pos, name, magic)
        if err is not None:
            bad = BadRecord(pos, err)
            later = _find_valid_record(data, pos + 1, name, magic)
            return ParsedLog(records, offsets, pos, bad, later)
        assert obj is not None
        records.append(obj)
        offsets.append(pos)
        pos = end
    return ParsedLog(records, offsets, pos)


def _find_valid_record(data: bytes, start: int, name: str, magic: bytes) -> int | None:
    pos = data.find(magic + b" ", start)
    while pos >= 0:
        obj, _, err = _parse_one(data, pos, name, magic)
        if err is None:
            return pos
        pos = data.find(magic + b" ", pos + 1)
    return None


# ---------------------------------------------------------------------------
# Compaction policy (pure: the caller supplies the clock)
# ---------------------------------------------------------------------------

@dataclass
class CompactionPolicy:
    min_delay: float = 600.0          # seconds: 10 min ...
    delay_range: float = 600.0        # ... plus up to 10 min more, at random
    retry_delay: float = 60.0         # after a failed compaction: 1 min ...
    retry_range: float = 60.0         # ... plus up to 1 min
    max_delay: float = 86400.0        # compact anything at least once a day
    min_records: int = 100
    min_size: int = 10 * 1024 * 1024  # bytes
    growth_factor: int = 2            # size / factor must exceed the post-compaction size
    rng: random.Random = field(default_factory=random.Random)


@dataclass
class CompactionClock:
    """When the next automatic compaction may and must happen (seconds, caller's clock)."""

    policy: CompactionPolicy
    next_min: float = 0.0
    next_max: float = 0.0

    def schedule(self, now: float, quick: bool = False) -> None:
        p = self.policy
        if quick:
            self.next_min = now + p.retry_delay + p.rng.uniform(0, p.retry_range)
        else:
            self.next_min = now + p.min_delay + p.rng.uniform(0, p.delay_range)
            self.next_max = now + p.max_delay

    def due(self, now: float, n_records: int, size: int, base: int) -> bool:
        p = self.policy
        if now < self.next_min:
            return False
        if now < self.next_max:
            grew_lots = size > p.min_size and size // p.growth_factor > base
            return n_records >= p.min_records and grew_lots
        return n_records > 0


# ---------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------

def lockfile_path(path: str) -> str:
    real = os.path.realpath(path)
    d, b = os.path.split(real)
    return os.path.join(d, f".{b}.~lock~")


# fcntl locks belong to the process, and closing *any* descriptor of the lock file drops
# them, so a second open in this process must be refused before it touches the file.
_LOCKED: set[str] = set()


def take_lock(path: str) -> int:
    lock_path = lockfile_path(path)
    if lock_path in _LOCKED:
        raise LockedError(f"{path}: failed to lock lockfile {lock_path} "
                          f"(this process already has the database open)")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EACCES, errno.EAGAIN):
            raise LockedError(f"{path}: failed to lock lockfile {lock_path} "
                              f"(another server or tool is using this database)") from None
        raise
    _LOCKED.add(lock_path)
    return fd


def release_lock(path: str, fd: int) -> None:
    _LOCKED.discard(lockfile_path(path))
    os.close(fd)


def fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.realpath(path)) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    n = os.write(fd, data)
    if n < len(data):  # a short write: rare, so only then slice without copying
        view = memoryview(data)[n:]
        while view:
            view = view[os.write(fd, view):]


def create(path: str, schema_json: dict, *, mode: int = 0o640) -> None:
    """Create a new file holding only the schema record (like ``ovsdb-tool create``)."""
    data = encode_record(schema_json)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise StorageError(f"{path}: create failed (File exists)") from None
    except OSError as e:
        raise StorageError(f"{path}: create failed ({e.strerror})") from None
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path)


def read(path: str, magic: bytes = MAGIC) -> ParsedLog:
    """Read-only look at a file (no lock, no repair), as ``ovsdb-tool show-log`` does."""
    with open(path, "rb") as f:
        return parse_log(f.read(), path, magic)


class AppendOnlyFile:
    """A database file open for appends under its lock: what the standalone file and
    the clustered file share (opening under the lock, appending whole records or
    nothing, replacing the contents crash-safely, closing)."""

    def __init__(self, path: str, fd: int, lock_fd: int | None, size: int) -> None:
        self.path = path
        self._fd = fd
        self._lock_fd = lock_fd
        self.size = size                # bytes in the file (= offset of the next record)

    @staticmethod
    def _open_locked(path: str, lock: bool, load: Callable[[int, int | None], T]) -> T:
        """Take the lock (if asked), open ``path`` for appends and hand both to ``load``;
        if anything fails, what was taken is given back before the error goes on."""
        lock_fd = take_lock(path) if lock else None
        try:
            try:
                fd = os.open(path, os.O_RDWR | os.O_APPEND)
            except OSError as e:
                raise StorageError(f"{path}: open failed ({e.strerror})") from None
            try:
                return load(fd, lock_fd)
            except BaseException:
                os.close(fd)
                raise
        except BaseException:
            if lock_fd is not None:
                release_lock(path, lock_fd)
            raise

    def _append_bytes(self, data: bytes, durable: bool) -> None:
        """Write ``data`` (whole records) at the end; with ``durable`` fsync it."""
        try:
            write_all(self._fd, data)
            if durable:
                os.fsync(self._fd)
        except OSError as e:
            # Don't leave half a record behind to be mistaken for a torn tail later.
            try:
                os.ftruncate(self._fd, self.size)
            except OSError:
                pass
            raise StorageError(f"{self.path}: write failed ({e.strerror})") from None
        self.size += len(data)

    def commit(self) -> None:
        """Make everything appended so far durable (fsync)."""
        os.fsync(self._fd)

    def _replace(self, data: bytes) -> None:
        """Atomically replace the file's contents by ``data``.

        Crash-safe at every instant: the new contents go to NAME.tmp, are fsynced, then
        renamed over the old file and the directory is fsynced.  Until the rename the
        old file is intact; after it the new one is complete.
        """
        real = os.path.realpath(self.path)
        tmp = real + ".tmp"
        try:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, real)
            fsync_dir(real)
            new_fd = os.open(real, os.O_RDWR | os.O_APPEND)
        except OSError as e:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise StorageError(f"{self.path}: compaction failed ({e.strerror}); "
                               f"the old file is unchanged") from None
        os.close(self._fd)
        self._fd = new_fd
        self.size = len(data)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd is not None:
            release_lock(self.path, self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LogFile(AppendOnlyFile):
    """An open standalone database file positioned for appends."""

    def __init__(self, path: str, fd: int, lock_fd: int | None, size: int, n_records: int,
                 policy: CompactionPolicy, clock: Any) -> None:
        super().__init__(path, fd, lock_fd, size)
        self.base = size                # size right after open / the last compaction
        self.n_records = n_records      # transaction records read + written since open
        self.policy = policy
        self._clock = clock
        self._when = CompactionClock(policy)
        self._when.schedule(clock())

    # -- open --------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str, *, repair: bool = False, lock: bool = True,
             policy: CompactionPolicy | None = None,
             clock: Any = time.monotonic) -> tuple["LogFile", dict, list[dict]]:
        """Open for reading and appending.  Returns (log, schema_json, records after it).

        A torn or corrupt last record is logged at ERROR and truncated away (fsynced);
        damage followed by valid records raises CorruptLogError unless `repair`.
        """
        def load(fd: int, lock_fd: int | None) -> tuple[LogFile, dict, list[dict]]:
            data = read_fd(fd)
            parsed = parse_log(data, path)
            _check_opened(path, data, parsed, repair)
            if parsed.bad is not None:
                log.error("%s", parsed.bad.message)
                dropped = len(data) - parsed.good_end
                log.error("%s: truncating %d bytes of damaged data at offset %d "
                          "(keeping %d good records)", path, dropped, parsed.good_end,
                          len(parsed.records))
                os.ftruncate(fd, parsed.good_end)
                os.fsync(fd)
            opened = cls(path, fd, lock_fd, parsed.good_end, len(parsed.records) - 1,
                         policy or CompactionPolicy(), clock)
            return opened, parsed.records[0], parsed.records[1:]

        return cls._open_locked(path, lock, load)

    # -- write -------------------------------------------------------------------------
    def append(self, record: dict | bytes, durable: bool = False) -> None:
        """Append one record.  Once this returns the record survives a crash of this
        process (it is in the kernel); with `durable` it also survives power loss."""
        data = frame(record) if isinstance(record, (bytes, bytearray)) else encode_record(record)
        self._append_bytes(data, durable)
        self.n_records += 1

    # -- compaction ----------------------------------------------------------------------
    def should_compact(self, now: float | None = None) -> bool:
        now = self._clock() if now is None else now
        return self._when.due(now, self.n_records, self.size, self.base)

    def compact(self, schema_json: dict, snapshot_record: dict | None) -> None:
        """Atomically replace the file by the schema and one snapshot record (see
        ``AppendOnlyFile._replace``); a failure leaves the old file and retries soon."""
        data = encode_record(schema_json)
        if snapshot_record is not None:
            data += encode_record(snapshot_record)
        try:
            self._replace(data)
        except StorageError:
            self._when.schedule(self._clock(), quick=True)
            raise
        self.base = self.size
        self._when.schedule(self._clock())


def read_fd(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _check_opened(path: str, data: bytes, parsed: ParsedLog, repair: bool) -> None:
    """Raise for files we must not open; return quietly for good or repairable ones."""
    if not data:
        raise StorageError(f"{path}: cannot identify file type (empty file)")
    if data.startswith(CLUSTER_MAGIC):
        raise StorageError(f"{path}: is a clustered database (OVSDB CLUSTER), not a "
                           f"standalone one")
    if not parsed.records:
        assert parsed.bad is not None
        raise CorruptLogError(f"{parsed.bad.message}; the schema record is damaged, "
                              f"so the database cannot be opened")
    if parsed.bad is not None and not parsed.torn_tail and not repair:
        raise CorruptLogError(
            f"{parsed.bad.message}; a valid record follows at offset "
            f"{parsed.valid_after_bad}, so this is damage in the middle of the log, not a "
            f"torn last write.  Refusing to open rather than drop later transactions "
            f"(ovsdb-server would drop them).  To keep only the "
            f"{len(parsed.records) - 1} transactions before the damage, run "
            f"`crucible db repair {path}`.")
