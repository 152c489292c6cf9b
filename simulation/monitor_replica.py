"""A client's replica built only from the notifications it receives (the IDL's job).

Test-only, so it lives here and not in the server: the property tests and
simulation.monitor_trace use it as the client side; it applies
update (v1), update2 and update3 <table-updates> strictly, so a doubled insert, a modify
or delete of an unknown row, or an insert of a row already held raises ReplicaError.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reference.data.datum import Datum, apply_diff, datum_from_json, default_datum
from reference.data.types import UNLIMITED


class ReplicaError(Exception):
    pass


class Replica:
    def __init__(self, schema: Any, columns: dict[str, tuple[str, ...]]) -> None:
        self.schema = schema
        self.columns = columns
        self.tables: dict[str, dict[str, dict[str, Datum]]] = {t: {} for t in columns}

    def clear(self) -> None:
        for rows in self.tables.values():
            rows.clear()

    def _type(self, table: str, col: str):
        return self.schema.tables[table].columns[col].type

    def _parse_row(self, table: str, body: dict) -> dict[str, Datum]:
        row = {c: default_datum(self._type(table, c)) for c in self.columns[table]}
        for c, j in body.items():
            if c not in row:
                raise ReplicaError(f"{table}: column {c} not monitored")
            row[c] = datum_from_json(self._type(table, c), j)
        return row

    def apply(self, method: str, updates: dict) -> None:
        """Apply the <table-updates> of an update/update2/update3 (or an initial reply:
        method "update" for monitor, "update2" otherwise)."""
        for table, rows in updates.items():
            if table not in self.tables:
                raise ReplicaError(f"update for unmonitored table {table}")
            mine = self.tables[table]
            for u, ru in rows.items():
                if method == "update":
                    self._apply_v1(table, mine, u, ru)
                else:
                    self._apply_v2(table, mine, u, ru)

    def _apply_v2(self, table: str, mine: dict, u: str, ru: dict) -> None:
        if len(ru) != 1:
            raise ReplicaError(f"row update must have one member: {ru}")
        (op, body), = ru.items()
        if op in ("initial", "insert"):
            if u in mine:
                raise ReplicaError(f"{op} of a row already held: {u}")
            mine[u] = self._parse_row(table, body)
        elif op == "modify":
            if u not in mine:
                raise ReplicaError(f"modify of an unknown row: {u}")
            row = mine[u]
            for c, j in body.items():
                t = self._type(table, c)
                dt = replace(t, n_min=0, n_max=UNLIMITED) if t.is_composite else t
                row[c] = apply_diff(row[c], datum_from_json(dt, j), t)
        elif op == "delete":
            if u not in mine:
                raise ReplicaError(f"delete of an unknown row: {u}")
            del mine[u]
        else:
            raise ReplicaError(f"unknown row update {op}")

    def _apply_v1(self, table: str, mine: dict, u: str, ru: dict) -> None:
        if "new" in ru and "old" not in ru:
            if u in mine:
                raise ReplicaError(f"insert of a row already held: {u}")
            mine[u] = self._parse_row(table, ru["new"])
        elif "new" in ru:
            if u not in mine:
                raise ReplicaError(f"modify of an unknown row: {u}")
            for c, j in ru["new"].items():
                mine[u][c] = datum_from_json(self._type(table, c), j)
        elif "old" in ru:
            if u not in mine:
                raise ReplicaError(f"delete of an unknown row: {u}")
            del mine[u]
        else:
            raise ReplicaError(f"empty row update for {u}")
