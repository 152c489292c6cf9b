"""One database as the server hosts it: schema, contents, storage and monitors together.

``HostedDatabase`` is where the pieces meet on a commit, in this order: the change set is
written to storage (fsynced when the transaction asked for ``durable``), applied to the
in-memory database, then handed to the monitor engine, which returns what to send.
Nothing here does network I/O; storage writes are plain blocking file writes.

``_Server`` is hosted the same way, read-only to clients, without storage.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from reference.data.database import Database
from reference.data.datum import datum_to_json
from reference.data.errors import OvsdbError
from reference.data.schema import DatabaseSchema, parse_schema
from reference.monitor import MonitorEngine
from reference.storage.log_file import LogFile, StorageError
from reference.storage.records import (
    apply_file_record,
    changes_to_file_record,
    database_to_file_record,
)
from reference.txn.engine import execute

log = logging.getLogger("reference.ovsdb_server")

# The _Server database's schema, as ovsdb-server 3.1 reports it.
SERVER_SCHEMA_JSON: dict[str, Any] = {
    "cksum": "3009684573 744", "name": "_Server", "version": "1.2.0",
    "tables": {"Database": {"columns": {
        "cid": {"type": {"key": "uuid", "min": 0}},
        "connected": {"type": "boolean"},
        "index": {"type": {"key": "integer", "min": 0}},
        "leader": {"type": "boolean"},
        "model": {"type": {"key": {"enum": ["set", ["clustered", "relay", "standalone"]],
                                   "type": "string"}}},
        "name": {"type": "string"},
        "schema": {"type": {"key": "string", "min": 0}},
        "sid": {"type": {"key": "uuid", "min": 0}},
    }}},
}


@dataclass(frozen=True)
class HistoryLimits:
    """How much transaction history monitor_cond_since can resume from."""

    max_txns: int = 100
    max_atoms: int | None = None


class HostedDatabase:
    def __init__(self, schema: DatabaseSchema, *, storage: LogFile | None = None,
                 read_only: bool = False, model: str = "standalone",
                 limits: HistoryLimits = HistoryLimits()) -> None:
        self.schema = schema
        self.name = schema.name
        self.schema_json = schema.to_json()
        self.db = Database(schema)
        self.storage = storage
        self.read_only = read_only
        self.model = model
        self.limits = limits
        self.monitors = self._new_monitors()

    def _new_monitors(self) -> MonitorEngine:
        return MonitorEngine(self.schema, lambda: self.db,
                             history_max_txns=self.limits.max_txns,
                             history_max_atoms=self.limits.max_atoms)

    # -- transactions ------------------------------------------------------------

    def execute(self, ops: list, *, owns_lock, now_ms: float, started_ms: float):
        """Run a transaction against the current contents (no mutation)."""
        return execute(self.db, ops, owns_lock=owns_lock, now_ms=now_ms,
                           started_ms=started_ms, read_only=self.read_only)

    def commit(self, changes, durable: bool, now_ms: float) -> list[tuple[Any, bytes]]:
        """Store, apply and publish a change set; returns monitor deliveries.

        Raises StorageError, with nothing applied, when the change cannot be written.
        """
        if self.storage is not None:
            record = changes_to_file_record(changes, self.schema,
                                                  date_ms=int(time.time() * 1000))
            if record is not None:
                self.storage.append(record, durable=durable)
        self.db.apply(changes)
        return self.monitors.commit(changes)

    # -- online schema conversion ---------------------------------------------------

    def convert(self, new_schema_json: Any) -> None:
        """Replace schema and contents with ``new_schema_json`` (the ``convert`` method).

        Rows of tables the new schema keeps are re-inserted with their columns that it
        keeps, through the transaction engine, so every constraint of the new schema is
        checked; a failure leaves everything as it was.  Monitors are not carried over:
        the caller cancels them (monitor_canceled) or disconnects their sessions.
        """
        if self.read_only:
            raise OvsdbError("not allowed", f"the {self.name} database cannot be converted")
        new_schema = parse_schema(new_schema_json)
        if new_schema.name != self.name:
            raise OvsdbError("invalid parameters", f"new schema name ({new_schema.name}) "
                             f"does not match database name ({self.name})")
        new_db = Database(new_schema)
        ops = []
        for table_name, new_table in new_schema.tables.items():
            old_table = self.schema.tables.get(table_name)
            if old_table is None:
                continue
            kept = [c for c in new_table.user_columns if c in old_table.columns]
            for row_uuid, row in self.db.tables[table_name].rows.items():
                ops.append({"op": "insert", "table": table_name, "uuid": str(row_uuid),
                            "row": {c: datum_to_json(row[c], old_table.columns[c].type)
                                    for c in kept}})
        outcome = execute(new_db, ops, now_ms=0, started_ms=0)
        for slot in outcome.result or ():
            if isinstance(slot, dict) and "error" in slot:
                raise OvsdbError(slot["error"], slot.get("details"))
        if outcome.changes is not None:
            new_db.apply(outcome.changes)
        schema_json = new_schema.to_json()
        if self.storage is not None:
            self.storage.compact(schema_json, database_to_file_record(new_db))
        self.schema, self.schema_json, self.db = new_schema, schema_json, new_db
        self.monitors = self._new_monitors()
        log.info("%s: converted to schema version %s", self.name, new_schema.version)

    # -- storage -------------------------------------------------------------------

    def compact(self) -> None:
        if self.storage is not None:
            snapshot = database_to_file_record(
                self.db, comment="compacting database online")
            self.storage.compact(self.schema_json, snapshot)
            log.info("%s: compacted database", self.name)

    def maybe_compact(self) -> None:
        """Automatic compaction; a failure is logged and retried later by the policy."""
        if self.storage is not None and self.storage.should_compact():
            try:
                self.compact()
            except StorageError as e:
                log.error("%s: compaction failed: %s", self.name, e)

    def close(self) -> None:
        if self.storage is not None:
            self.storage.close()
            self.storage = None


def open_file(path: str | Path, limits: HistoryLimits) -> HostedDatabase:
    storage, schema_json, records = LogFile.open(str(path))
    hosted = HostedDatabase(parse_schema(schema_json), storage=storage, limits=limits)
    for record in records:
        apply_file_record(hosted.db, record)
    log.info("%s: opened database %s (%d records)", path, hosted.name, len(records))
    return hosted


def schema_text(schema_json: Any) -> str:
    return orjson.dumps(schema_json, option=orjson.OPT_SORT_KEYS).decode()


def server_database(hosted: list[HostedDatabase]) -> HostedDatabase:
    """Build _Server with one Database row per hosted database, itself included."""
    server = HostedDatabase(parse_schema(SERVER_SCHEMA_JSON), read_only=True,
                    limits=HistoryLimits(0, 0))
    rows = [(h.name, h.model, h.schema_json) for h in hosted]
    rows.append((server.name, "standalone", SERVER_SCHEMA_JSON))
    ops = [{"op": "insert", "table": "Database", "row": {
        "name": name, "model": model, "connected": True, "leader": True,
        "schema": schema_text(schema_json)}}
        for name, model, schema_json in rows]
    outcome = execute(server.db, ops, owns_lock=lambda name: False, now_ms=0,
                          started_ms=0, read_only=False)
    if outcome.changes is None:
        raise RuntimeError(f"cannot build _Server database: {outcome.result}")
    server.db.apply(outcome.changes)
    return server


def open_databases(paths: list[str], limits: HistoryLimits) -> list[HostedDatabase]:
    hosted = [open_file(p, limits) for p in paths]
    names = [h.name for h in hosted]
    if len(set(names)) != len(names) or "_Server" in names:
        for h in hosted:
            h.close()
        raise ValueError(f"duplicate or reserved database names: {names}")
    return hosted + [server_database(hosted)]
