"""The monitor core's only contact with rows, datums and conditions.

Everything the composer and the condition index need to know about ref-core's data model
goes through this module, so the rest of the package reads as pure monitor logic:

- a row is a mapping column -> ``reference.data.datum.Datum`` (``_uuid``/``_version``
  included); a database exposes its rows through ``table_rows``;
- wire encodings and update2 diffs are ``reference.data.datum``'s;
- monitor conditions: a small local parser/evaluator (``Clause``) with the error texts
  ovsdb-server 3.1 sends for bad ``where`` clauses, because the monitor core also needs
  each clause's *index term* (see condition_index.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from reference.data import datum as D
from reference.data.errors import OvsdbError, json_text, syntax_error

Datum = D.Datum
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                        r"[0-9a-fA-F]{12}\Z")
FUNCTIONS = ("==", "!=", "<", "<=", ">", ">=", "includes", "excludes")
_ORDERING = ("<", "<=", ">", ">=")


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
    if len(wanted) * 4 >= len(order):
        return [u for u in order if u in wanted]

    chains: dict[int, dict] = {}   # bucket -> {uuid: position in its chain}

    def pos(u: Any) -> tuple[int, int]:
        b = order.hashes[u] & order.mask
        chain = chains.get(b)
        if chain is None:
            chain = chains[b] = {k: i for i, k in enumerate(order.buckets[b])}
        return (b, chain[u])
    return sorted(wanted, key=pos)


def table_rows(db: Any, table: str) -> Iterator[tuple[Any, Any]]:
    """(uuid, row) for every row of ``table``."""
    return iter(table_map(db, table).items())


# -- datums ----------------------------------------------------------------------------

def to_json(d: Datum, t: Any) -> Any:
    return D.datum_to_json(d, t)


def is_default(d: Datum, t: Any) -> bool:
    return d == D.default_datum(t)


def diff_json(old: Datum, new: Datum, t: Any) -> Any:
    return D.datum_to_json(D.diff(old, new, t), t)


# -- conditions ------------------------------------------------------------------------

@dataclass(frozen=True)
class Clause:
    column: str
    function: str
    arg: Datum


def clause_key(c: Clause) -> tuple:
    # The datum's own (sorted) content makes equal clauses equal keys; str() of the
    # atoms keeps keys of different columns comparable for sorting.
    return (c.column, c.function, tuple(map(str, c.arg.keys)),
            None if c.arg.values is None else tuple(map(str, c.arg.values)))


def clause_index_term(c: Clause) -> tuple[str, str, Any] | None:
    if c.function == "==":
        return (c.column, "==", c.arg)
    if c.function == "includes" and c.arg.keys:
        # A matching row holds every element of arg, so it holds the first one.
        if c.arg.values is None:
            return (c.column, "includes", c.arg.keys[0])
        return (c.column, "includes", (c.arg.keys[0], c.arg.values[0]))
    return None


def _includes(d: Datum, arg: Datum) -> bool:
    if arg.values is None:
        have = d.as_keyset() if len(d.keys) > 8 else d.keys
        return all(a in have for a in arg.keys)
    m = d.as_dict()
    return all(k in m and m[k] == v for k, v in zip(arg.keys, arg.values, strict=True))


def _excludes(d: Datum, arg: Datum) -> bool:
    if arg.values is None:
        have = d.as_keyset()
        return not any(a in have for a in arg.keys)
    m = d.as_dict()
    return not any(k in m and m[k] == v for k, v in zip(arg.keys, arg.values, strict=True))


def clause_matches(c: Clause, row: Any) -> bool:
    d = row[c.column]
    f = c.function
    if f == "==":
        return d == c.arg
    if f == "!=":
        return d != c.arg
    if f == "includes":
        return _includes(d, c.arg)
    if f == "excludes":
        return _excludes(d, c.arg)
    # Ordering functions: false when the (optional) column or the argument is empty.
    if len(d.keys) != 1 or len(c.arg.keys) != 1:
        return False
    a, b = d.keys[0], c.arg.keys[0]
    if f == "<":
        return a < b
    if f == "<=":
        return a <= b
    if f == ">":
        return a > b
    return a >= b


def parse_where(table_schema: Any, where: Any) -> list:
    """Parse a monitor ``where`` (a list of clauses, ORed) into Clause objects and the
    booleans True/False; ``None`` (absent) parses as [] (true)."""
    if where is None:
        return []
    if not isinstance(where, list):
        raise syntax_error(where, "Parse error in condition.")
    out: list = []
    for cj in where:
        if cj is True or cj is False:
            out.append(cj)
            continue
        if not (isinstance(cj, list) and len(cj) == 3 and isinstance(cj[0], str)
                and isinstance(cj[1], str)):
            raise syntax_error(cj, "Parse error in condition.")
        col, fn, val = cj
        cs = table_schema.columns.get(col)
        if cs is None:
            raise OvsdbError("unknown column", f"No column {col} in table "
                             f"{table_schema.name}.", json_text(cj))
        if fn not in FUNCTIONS:
            raise OvsdbError("unknown function", f"No function named {fn}.")
        t = cs.type
        if fn in _ORDERING and not (t.value is None and t.n_max == 1
                                    and t.key.type in ("integer", "real")):
            raise syntax_error(cj, f'Type mismatch: "{fn}" operator may not be applied to '
                               f"column {col} of type {t.to_english()}.")
        if fn in _ORDERING:
            t = replace(t, n_min=1, n_max=1)    # the argument is exactly one number
        elif fn in ("includes", "excludes") and not t.is_scalar:
            t = replace(t, n_min=0)             # a subset of the column's values
        out.append(Clause(col, fn, D.datum_from_json(t, val)))
    return out


def parse_txn_id(value: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise syntax_error(value, "last-txn-id must be string")
    if _UUID_TEXT.match(value):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise syntax_error(value, "last-txn-id must be UUID format.")
