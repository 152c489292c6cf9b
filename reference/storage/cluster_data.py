"""The database inside a clustered file: entry data and snapshots as OVS writes them.

An entry's ``data`` and a header's ``prev_data`` are ``[schema|null, txn|null]``.  A
non-null schema is a conversion (or the snapshot's schema) and the txn then holds the
whole database; a txn is a standalone file's transaction record
(``reference.storage.records``: ``_is_diff`` diffs, ``_date``, ``_comment``).

    change_data(changes, schema) -> [None, txn] | None   what a commit appends
    snapshot_data(db, comment=None) -> [schema, txn]     what compaction writes
    apply_data(db | None, data) -> Database              one entry's data, replayed
    load_database(state, upto=None) -> Database          snapshot + entries up to `upto`
    standalone_records(state) -> [schema, txn, ...]      cluster-to-standalone's output
"""

from __future__ import annotations

from typing import Any

from reference.data.database import ChangeSet, Database
from reference.data.errors import OvsdbError
from reference.data.schema import DatabaseSchema, parse_schema
from reference.storage.cluster_file import ClusterLog
from reference.storage.log_file import StorageError
from reference.storage.records import (
    apply_file_record,
    changes_to_file_record,
    database_to_file_record,
)


def change_data(changes: ChangeSet, schema: DatabaseSchema,
                date_ms: int | None = None) -> list | None:
    """The data of the entry a commit appends, or None when nothing persistent changed."""
    txn = changes_to_file_record(changes, schema, date_ms)
    return None if txn is None else [None, txn]


def snapshot_data(db: Database, comment: str | None = None,
                  date_ms: int | None = None) -> list:
    """The whole database as ovsdb-server 3.1 snapshots it: every row in full, marked
    ``_is_diff`` as its writer marks every record (for an inserted row a diff and the
    full value are the same thing)."""
    txn = database_to_file_record(db, comment, date_ms)
    txn["_is_diff"] = True
    return [db.schema.to_json(), txn]


def _split(data: Any) -> tuple[Any, Any]:
    if not isinstance(data, list) or len(data) != 2:
        raise StorageError("entry data must be a 2-element array [schema, txn]")
    schema, txn = data
    if schema is not None and not isinstance(schema, dict):
        raise StorageError("entry data's schema must be an object or null")
    if txn is not None and not isinstance(txn, dict):
        raise StorageError("entry data's transaction must be an object or null")
    return schema, txn


def apply_data(db: Database | None, data: Any) -> Database:
    """Replay one `data` into `db` (a new database when it carries a schema)."""
    schema, txn = _split(data)
    try:
        if schema is not None:
            if txn is None:
                # 3.2+ may write a conversion without its result; 3.1 never does.
                raise StorageError("a conversion entry without the converted data is not "
                                   "supported")
            db = Database(parse_schema(schema))
        if db is None:
            raise StorageError("the first data in the log has no schema")
        if txn is not None:
            apply_file_record(db, txn)
    except OvsdbError as e:
        raise StorageError(f"bad database data in the log: {e}") from None
    return db


def load_database(state: ClusterLog, upto: int | None = None) -> Database:
    """The database after the snapshot and the entries up to index `upto` (default: the
    whole log, committed or not, as cluster-to-standalone reads it)."""
    h = state.header
    if h.joining or not h.prev_index:
        raise StorageError(f"{h.name}: the file holds no database yet (not joined)")
    db = apply_data(None, h.prev_data)
    last = state.log_end - 1 if upto is None else upto
    for e in state.entries[:max(0, last + 1 - state.log_start)]:
        if e.data is not None:
            db = apply_data(db, e.data)
    return db


def standalone_records(state: ClusterLog) -> list[dict]:
    """The records of a standalone file with the same contents: the schema, the
    snapshot's transaction, then every entry's transaction in log order (a conversion
    starts the file over with its schema and contents)."""
    h = state.header
    if h.joining or not h.prev_index:
        raise StorageError(f"{h.name}: the file holds no database yet (not joined)")
    schema, txn = _split(h.prev_data)
    if schema is None:
        raise StorageError("the snapshot in the header has no schema")
    out: list[dict] = [schema] + ([txn] if txn is not None else [])
    for e in state.entries:
        if e.data is None:
            continue
        schema, txn = _split(e.data)
        if schema is not None:
            if txn is None:
                raise StorageError(f"entry {e.index} is a conversion without the converted "
                                   f"data, which is not supported")
            out = [schema]
        if txn is not None:
            out.append(txn)
    return out
