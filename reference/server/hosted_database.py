"""One database as the server hosts it: schema, contents, storage and monitors together.

The contents change only by committed changes: the core executes a transaction
(``execute``, which never mutates), proposes its change set to ``storage``, and once
storage hands it back committed calls ``apply``, which changes the in-memory database and
hands the change to the monitor engine, which returns what to send.  Online conversion
takes the same path (``conversion`` builds the change set, ``apply`` swaps schema and
contents).  Nothing here does network I/O.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference.data.database import ChangeSet, Database
from reference.data.datum import datum_to_json
from reference.data.errors import OvsdbError
from reference.data.schema import DatabaseSchema, parse_schema
from reference.monitor import Delivery, MonitorEngine
from reference.storage.log_file import LogFile
from reference.storage.proposal import Proposal
from reference.storage.records import apply_file_record
from reference.storage.standalone import StandaloneStorage
from reference.txn.engine import TxnOutcome, execute

log = logging.getLogger("reference.ovsdb_server")


@dataclass(frozen=True)
class HistoryLimits:
    """How much transaction history monitor_cond_since can resume from."""

    max_txns: int = 100
    max_atoms: int | None = None


class HostedDatabase:
    def __init__(self, schema: DatabaseSchema, *, storage: StandaloneStorage | None = None,
                 read_only: bool = False, model: str = "standalone",
                 limits: HistoryLimits = HistoryLimits()) -> None:
        self.schema = schema
        self.name = schema.name
        self.schema_json = schema.to_json()
        self.db = Database(schema)
        self.storage = storage if storage is not None else StandaloneStorage(schema)
        self.read_only = read_only
        self.model = model
        self.limits = limits
        self.monitors = self._new_monitors()

    def _new_monitors(self) -> MonitorEngine:
        return MonitorEngine(self.schema, lambda: self.db,
                             history_max_txns=self.limits.max_txns,
                             history_max_atoms=self.limits.max_atoms)

    @property
    def on_disk(self) -> bool:
        return self.storage.on_disk

    # -- transactions ------------------------------------------------------------

    def execute(self, ops: list, *, owns_lock, now_ms: float, started_ms: float) -> TxnOutcome:
        """Run a transaction against the committed contents (no mutation)."""
        return execute(self.db, ops, owns_lock=owns_lock, now_ms=now_ms,
                       started_ms=started_ms, read_only=self.read_only)

    def apply(self, committed: Proposal) -> list[Delivery]:
        """Apply a change storage has committed; returns the monitor deliveries."""
        if committed.schema is not None:
            self._converted(committed.schema, committed.changes)
            return []
        self.db.apply(committed.changes)
        return self.monitors.commit(committed.changes)

    # -- online schema conversion ---------------------------------------------------

    def conversion(self, new_schema_json: Any) -> tuple[DatabaseSchema, ChangeSet]:
        """The change that converts to ``new_schema_json`` (the ``convert`` method): the
        new schema, and a change set that builds the converted contents from nothing.

        Rows of tables the new schema keeps are re-inserted with their columns that it
        keeps, through the transaction engine, so every constraint of the new schema is
        checked (OvsdbError otherwise).  Nothing changes until it is committed.
        """
        if self.read_only:
            raise OvsdbError("not allowed", f"the {self.name} database cannot be converted")
        new_schema = parse_schema(new_schema_json)
        if new_schema.name != self.name:
            raise OvsdbError("invalid parameters", f"new schema name ({new_schema.name}) "
                             f"does not match database name ({self.name})")
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
        outcome = execute(Database(new_schema), ops, now_ms=0, started_ms=0)
        for slot in outcome.result or ():
            if isinstance(slot, dict) and "error" in slot:
                raise OvsdbError(slot["error"], slot.get("details"))
        return new_schema, outcome.changes or ChangeSet()

    def _converted(self, new_schema: DatabaseSchema, changes: ChangeSet) -> None:
        # The change set was made against an empty database of the new schema (row
        # order steps included), so it applies to a fresh one exactly.  Monitors are
        # not carried over (the core cancels them or disconnects their sessions); which
        # sessions have unsent output is.
        new_db = Database(new_schema)
        new_db.apply(changes)
        backlogged = self.monitors.backlogged_sessions()
        self.schema, self.schema_json, self.db = new_schema, new_schema.to_json(), new_db
        self.monitors = self._new_monitors()
        for session in backlogged:
            self.monitors.set_backlogged(session, True)
        log.info("%s: converted to schema version %s", self.name, new_schema.version)

    # -- storage -------------------------------------------------------------------

    def compact(self) -> None:
        self.storage.compact(self.db)

    def maybe_compact(self) -> None:
        self.storage.maybe_compact(self.db)

    def close(self) -> None:
        self.storage.close()


def open_file(path: str | Path, limits: HistoryLimits) -> HostedDatabase:
    log_file, schema_json, records = LogFile.open(str(path))
    schema = parse_schema(schema_json)
    hosted = HostedDatabase(schema, storage=StandaloneStorage(schema, log_file), limits=limits)
    for record in records:
        apply_file_record(hosted.db, record)
    log.info("%s: opened database %s (%d records)", path, hosted.name, len(records))
    return hosted

