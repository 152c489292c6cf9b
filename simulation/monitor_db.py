"""A minimal in-memory database for driving the monitor core without the transaction
engine: used by simulation.monitor_trace and the monitor tests.

Rows are dicts column -> Datum with every column (``_uuid`` and ``_version`` included),
never mutated once built; ``commit`` builds the change set (table -> uuid -> (old, new))
the engine consumes, exactly the shape of reference.data.database's ChangeSet.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from reference.data.datum import Datum, default_datum
from reference.data.ovs_hash import OvsHmap, uuid_hash


@dataclass
class SimChangeSet:
    tables: dict[str, dict[Any, tuple[Any, Any]]]
    txn_id: uuid.UUID = field(default_factory=uuid.uuid4)


class SimTable(dict):
    """uuid -> row, plus ``order``: the row order ovsdb-server would iterate (an OvsHmap
    keyed by the UUID's first 32 bits, as reference.data.database.Table keeps it)."""

    def __init__(self) -> None:
        super().__init__()
        self.order = OvsHmap()


class SimDB:
    def __init__(self, schema: Any, new_uuid=uuid.uuid4) -> None:
        self.schema = schema
        self.tables: dict[str, SimTable] = {t: SimTable() for t in schema.tables}
        self._new_uuid = new_uuid

    def make_row(self, table: str, row_uuid: uuid.UUID, values: dict[str, Datum]) -> dict:
        ts = self.schema.tables[table]
        row = {c: default_datum(cs.type) for c, cs in ts.columns.items()}
        row.update(values)
        row["_uuid"] = Datum.atom(row_uuid)
        row["_version"] = Datum.atom(self._new_uuid())
        return row

    def commit(self, writes: dict[str, dict[uuid.UUID, dict | None]],
               txn_id: uuid.UUID | None = None) -> SimChangeSet:
        """``writes``: table -> uuid -> new column values (merged into the existing row,
        or a new row) or None (delete).  Rows left unchanged are dropped, as OVS does."""
        changes: dict[str, dict] = {}
        for table, rows in writes.items():
            cur = self.tables[table]
            for u, values in rows.items():
                old = cur.get(u)
                if values is None:
                    if old is not None:
                        changes.setdefault(table, {})[u] = (old, None)
                    continue
                base = dict(old) if old is not None else {}
                base.update(values)
                if old is not None and all(base[c] == old[c] for c in values):
                    continue
                new = self.make_row(table, u, {k: v for k, v in base.items()
                                               if not k.startswith("_")})
                changes.setdefault(table, {})[u] = (old, new)
        for table, rows in changes.items():
            for u, (_, new) in rows.items():
                t = self.tables[table]
                if new is None:
                    del t[u]
                    t.order.remove(u)
                else:
                    if u not in t:
                        t.order.insert(u, uuid_hash(u))
                    t[u] = new
        return SimChangeSet(changes, txn_id or uuid.uuid4())
