"""Parse and validate the <monitor-requests> of monitor / monitor_cond / monitor_cond_since.

One job: turn the request JSON into a ``MonitorSpec`` (per table: monitored columns, their
select flags, the table's select flags and its ``where`` JSON) and monitor_cond_since's
last transaction id into a UUID, or raise the OvsdbError ovsdb-server 3.1 sends for the
same input.  The error texts were read off the real binary
(tests/reference/test_monitor_vs_ovs.py keeps them honest).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from reference.data.errors import OvsdbError, syntax_error

# Select flags, as in ovsdb/monitor.h (OJMS_*).
INITIAL, INSERT, DELETE, MODIFY = 1, 2, 4, 8
ALL_SELECT = INITIAL | INSERT | DELETE | MODIFY
_SELECT_NAMES = (("initial", INITIAL), ("insert", INSERT), ("delete", DELETE),
                 ("modify", MODIFY))

KINDS = ("monitor", "monitor_cond", "monitor_cond_since")
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                        r"[0-9a-fA-F]{12}\Z")


@dataclass(frozen=True)
class TableSpec:
    """What one session monitors in one table.  Hashable: part of a group key."""

    name: str
    columns: tuple[str, ...]       # monitored columns, in first-mention order
    col_select: tuple[int, ...]    # select flags of each column (v1 honours them)
    select: int                    # union of the flags of the table's requests

    def __post_init__(self) -> None:
        # Precomputed per select flag: the composer asks on every row update.
        by_flag = {f: tuple(c for c, s in zip(self.columns, self.col_select, strict=True)
                            if s & f) for f in (INITIAL, INSERT, DELETE, MODIFY)}
        object.__setattr__(self, "_by_flag", by_flag)

    def columns_for(self, flag: int) -> tuple[str, ...]:
        return self._by_flag[flag]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class MonitorSpec:
    tables: tuple[TableSpec, ...]                 # sorted by table name
    where: dict[str, list | None]                 # table -> where JSON (None: absent)

    def table(self, name: str) -> TableSpec | None:
        for t in self.tables:
            if t.name == name:
                return t
        return None


def _parser_error(context: str, problem: str, value: Any) -> OvsdbError:
    # ovsdb_parser's wording: "Parsing <context> failed: <problem>"
    return syntax_error(value, f"Parsing {context} failed: {problem}")


def _check_members(obj: Any, allowed: dict[str, type], context: str) -> None:
    if not isinstance(obj, dict):
        # OVS's parser reports this one without echoing the JSON.
        raise OvsdbError("syntax error", f"Parsing {context} failed: Object expected.")
    # As ovsdb_parser: the known members are checked first (in the order the caller
    # asks for them); unexpected members are reported only when parsing finishes.
    for name, want in allowed.items():
        if name in obj:
            value = obj[name]
            if not isinstance(value, want) or (want is not bool and isinstance(value, bool)):
                raise _parser_error(context, f"Type mismatch for member '{name}'.", obj)
    for name in obj:
        if name not in allowed:
            raise _parser_error(context, f"Member '{name}' is present but not allowed here.",
                                obj)


def _parse_select(sel: Any, table: str) -> int:
    if sel is None:
        return ALL_SELECT
    _check_members(sel, {n: bool for n, _ in _SELECT_NAMES}, f"table {table} select")
    flags = 0
    for name, flag in _SELECT_NAMES:
        if sel.get(name, True):
            flags |= flag
    return flags


def table_columns(schema: Any, table: str) -> list[str]:
    """Every column of ``table`` including _uuid and _version, in schema order."""
    ts = schema.tables[table]
    names = list(ts.columns)
    for implicit in ("_uuid", "_version"):
        if implicit not in names:
            names.append(implicit)
    return names


def parse_requests(schema: Any, kind: str, requests: Any) -> MonitorSpec:
    """Validate ``requests`` for a monitor of ``kind`` against ``schema``."""
    conditional = kind != "monitor"
    if not isinstance(requests, dict):
        raise syntax_error(requests, "monitor-requests must be object")
    tables: list[TableSpec] = []
    where: dict[str, list | None] = {}
    for tname, value in requests.items():
        if tname not in schema.tables:
            raise OvsdbError("syntax error", f"no table named {tname}")
        all_cols = table_columns(schema, tname)
        cols: dict[str, int] = {}
        tselect = 0
        for req in value if isinstance(value, list) else [value]:
            allowed: dict[str, type] = {"columns": list, "select": dict}
            if conditional:
                allowed["where"] = list
            _check_members(req, allowed, f"table {tname}")
            select = _parse_select(req.get("select"), tname)
            tselect |= select
            if "columns" in req:
                names = req["columns"]
                for c in names:
                    if not isinstance(c, str):
                        raise syntax_error(names, "array of column names expected")
                    if c not in all_cols:
                        raise syntax_error(names, f"{c} is not a valid column name")
                    if c in cols:
                        raise syntax_error(names, f"column {c} mentioned more than once")
                    cols[c] = select
            else:
                # Omitted "columns" means every column but _uuid (_version included).
                for c in all_cols:
                    if c == "_uuid":
                        continue
                    if c in cols:
                        raise OvsdbError("syntax error", f"column {c} mentioned more than once")
                    cols[c] = select
            if conditional and tname not in where:
                # ovsdb-server keeps the condition of a table's first request only.
                where[tname] = req.get("where")
        where.setdefault(tname, None)
        tables.append(TableSpec(tname, tuple(cols), tuple(cols.values()), tselect))
    tables.sort(key=lambda t: t.name)
    return MonitorSpec(tuple(tables), where)


def parse_change_requests(schema: Any, spec: MonitorSpec, requests: Any) -> dict[str, list]:
    """Validate <monitor-cond-change-requests>: table -> new where JSON."""
    if not isinstance(requests, dict):
        raise syntax_error(requests, "monitor-cond-change-requests must be object")
    out: dict[str, list] = {}
    for tname, value in requests.items():
        if tname not in schema.tables:
            raise OvsdbError("syntax error", f"no table named {tname}")
        if spec.table(tname) is None:
            raise OvsdbError("syntax error", f"no table named {tname} in monitor session")
        if not isinstance(value, list):
            raise OvsdbError("syntax error", f"table {tname} no monitor-cond-change JSON array")
        for req in value:
            if isinstance(req, dict) and "columns" in req:
                raise syntax_error(req, "changing columns is unsupported")
            _check_members(req, {"where": list}, f"table {tname}")
            if "where" in req:
                out[tname] = req["where"]
    return out


def parse_txn_id(value: Any) -> uuid.UUID:
    """The <last-txn-id> of monitor_cond_since."""
    if not isinstance(value, str):
        raise syntax_error(value, "last-txn-id must be string")
    if _UUID_TEXT.match(value):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise syntax_error(value, "last-txn-id must be UUID format.")
