"""The monitor core's only contact with rows and datums.

Everything the composer and the indexes need to know about the data model goes through
this module, so the rest of the package reads as pure monitor logic:

- a row is a mapping column -> ``reference.data.datum.Datum`` (``_uuid``/``_version``
  included); a database exposes its rows through ``table_rows``;
- wire encodings and update2 diffs are ``reference.data.datum``'s.

Conditions (parsing, evaluation, index terms) are ``reference.data.condition``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from reference.data.database import in_hash_order
from reference.data.datum import Datum, datum_to_json, default_datum, diff

# -- rows ------------------------------------------------------------------------------

def cell(row: Any, column: str) -> Datum:
    return row[column]


def cell_key(row: Any, column: str) -> Any:
    """The hashable value ``[column, "==", v]`` clauses are indexed under."""
    return row[column]


def cell_elements(row: Any, column: str) -> Iterable[Any]:
    """The elements ``[column, "includes", v]`` clauses are indexed under: the atoms of
    a set, the (key, value) pairs of a map."""
    d = row[column]
    if d.values is None:
        return d.keys
    return zip(d.keys, d.values, strict=True)


def n_atoms(row: Any) -> int:
    n = 0
    for d in row.values():  # a loop, not sum() over a generator: once per changed row
        n += len(d.keys) if d.values is None else 2 * len(d.keys)
    return n


def uuid_str(row_uuid: Any) -> str:
    return str(row_uuid)


def table_map(db: Any, table: str) -> Any:
    """uuid -> row for ``table`` in ``db`` (a reference.data.database.Database or a simulation.monitor_db.SimDB)."""
    rows = db.tables[table]
    return getattr(rows, "rows", rows)


def table_order_of(db: Any, table: str, row_keys: Iterable[str]) -> list[Any]:
    """The uuids of ``row_keys`` (uuid strings) in the order ovsdb-server iterates the
    table's rows: reference.data.database keeps that order in ``Table.order`` (an OvsHmap); for
    other databases it is simulated from their insertion order."""
    wanted = {uuid.UUID(k) for k in row_keys}
    order = getattr(db.tables[table], "order", None)
    if order is None or not hasattr(order, "buckets"):
        from reference.monitor.wire_order import row_insertion_order
        return [u for u in row_insertion_order(table_map(db, table)) if u in wanted]
    return in_hash_order(order, wanted)


def table_rows(db: Any, table: str) -> Iterator[tuple[Any, Any]]:
    """(uuid, row) for every row of ``table``."""
    return iter(table_map(db, table).items())


# -- datums ----------------------------------------------------------------------------

def cell_json(d: Datum, t: Any) -> Any:
    return datum_to_json(d, t)


def is_default(d: Datum, t: Any) -> bool:
    return d == default_datum(t)


def diff_json(old: Datum, new: Datum, t: Any) -> Any:
    return datum_to_json(diff(old, new, t), t)
