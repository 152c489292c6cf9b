"""Standalone storage: every proposed change is committed at once.

``propose`` appends the change to the log file (fsynced when the transaction asked for
``durable``), or, without a file (the ``_Server`` database), only names it, and hands the
proposal back committed (``changes.txn_id`` and ``changes.date_ms`` set) or failed
(``error`` set, nothing written).  See reference/storage/proposal.py for the seam this
fills.  A conversion proposal rewrites (compacts) the file with the new schema and the
converted contents.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from reference.data.database import ChangeSet, Database
from reference.data.schema import DatabaseSchema
from reference.data.uuidgen import uuid4
from reference.storage.log_file import LogFile, StorageError
from reference.storage.proposal import Proposal
from reference.storage.records import changes_to_file_record, database_to_file_record

log = logging.getLogger("reference.ovsdb_server")


class StandaloneStorage:
    """Commits at once; with ``log`` None, keeps nothing (the in-memory ``_Server``)."""

    busy = False   # never holds a transaction back: every proposal is decided at once

    def __init__(self, schema: DatabaseSchema, log_file: LogFile | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.schema = schema
        self.schema_json = schema.to_json()
        self.log = log_file
        self._clock = clock  # wall-clock seconds: the file records' "_date"

    @property
    def on_disk(self) -> bool:
        return self.log is not None

    def propose(self, proposal: Proposal) -> Proposal:
        """Commit ``proposal`` now; returns it committed or failed (``error`` set)."""
        changes = proposal.changes
        date_ms = int(self._clock() * 1000)
        try:
            if proposal.schema is not None:
                self._convert(proposal.schema, changes, date_ms)
            elif self.log is not None:
                record = changes_to_file_record(changes, self.schema, date_ms=date_ms)
                if record is not None:
                    self.log.append(record, durable=proposal.durable)
        except StorageError as e:
            log.error("%s: commit failed: %s", self.schema.name, e)
            proposal.error = {"error": "I/O error", "details": str(e)}
            return proposal
        changes.txn_id = uuid4()
        changes.date_ms = date_ms
        return proposal

    def _convert(self, schema: DatabaseSchema, changes: ChangeSet, date_ms: int) -> None:
        schema_json = schema.to_json()
        if self.log is not None:
            # The file holds the converted contents as one snapshot record, as
            # ovsdb-server writes it; built from the change set, which is all a
            # conversion carries (the database itself changes only once committed).
            contents = Database(schema)
            contents.apply(changes)
            self.log.compact(schema_json, database_to_file_record(contents, date_ms=date_ms))
        self.schema, self.schema_json = schema, schema_json

    # -- the file's upkeep ----------------------------------------------------------

    def compact(self, db: Database) -> None:
        """Rewrite the file as the schema and one snapshot of ``db``."""
        if self.log is not None:
            snapshot = database_to_file_record(db, comment="compacting database online")
            self.log.compact(self.schema_json, snapshot)
            log.info("%s: compacted database", self.schema.name)

    def maybe_compact(self, db: Database) -> None:
        """Automatic compaction; a failure is logged and retried later by the policy."""
        if self.log is not None and self.log.should_compact():
            try:
                self.compact(db)
            except StorageError as e:
                log.error("%s: compaction failed: %s", self.schema.name, e)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None
