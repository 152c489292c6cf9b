"""Database schemas (.ovsschema, RFC 7047 section 3.2, plus OVS's extensions).

Public API (stable; other modules build on it):
    parse_schema(obj) -> DatabaseSchema      obj: the parsed JSON of a .ovsschema file.
    load_schema(path) -> DatabaseSchema
    DatabaseSchema.name/.version/.cksum/.tables (dict name -> TableSchema, file order)
    DatabaseSchema.to_json()                 what ovsdb-server's get_schema returns.
    TableSchema.name/.columns (dict name -> ColumnSchema, "_uuid" and "_version"
        first, then the schema's columns in file order)/.max_rows (int | None)
        /.is_root (effective: True for every table when no table says isRoot)
        /.indexes (tuple of tuples of column names)/.user_columns (without _uuid,_version)
    ColumnSchema.name/.type/.mutable/.ephemeral
    Column types (Type, BaseType) are reference.data.types; type_from_json/type_to_json
        and base_type_from_json/base_type_to_json read and write them.
Invalid schemas raise reference.data.errors.OvsdbError("syntax error", details).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import orjson

from reference.data.datum import datum_from_json, datum_to_json, real_to_json
from reference.data.errors import OvsdbError, syntax_error
from reference.data.ovs_hash import ovs_order
from reference.data.types import (
    ATOMIC_TYPES,
    DBL_MAX,
    INT64_MAX,
    INT64_MIN,
    UINT_MAX,
    UNLIMITED,
    UUID_TYPE,
    BaseType,
    Type,
)

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _real(x: float) -> int | float:
    # OVS writes reals with "%.15g", so 1000000.0 goes out as 1000000.
    return real_to_json(x)


# -- column types as JSON (the types themselves are in reference.data.types) --

def base_type_from_json(j: Any) -> BaseType:
    if isinstance(j, str):
        if j not in ATOMIC_TYPES:
            raise syntax_error(j, f'"{j}" is not an atomic-type')
        return BaseType(j)
    if not isinstance(j, dict):
        raise syntax_error(j, "base type must be a string or an object")
    t = j.get("type")
    if t not in ATOMIC_TYPES:
        raise syntax_error(j, f'"{t}" is not an atomic-type' if isinstance(t, str)
                           else "Parsing ovsdb type failed: Required 'type' member is "
                           "missing.")
    allowed = {"type", "enum"} | {
        "integer": {"minInteger", "maxInteger"}, "real": {"minReal", "maxReal"},
        "string": {"minLength", "maxLength"}, "uuid": {"refTable", "refType"},
        "boolean": set()}[t]
    for k in j:
        if k not in allowed:
            raise syntax_error(j, f"Parsing ovsdb type failed: Member '{k}' is present "
                               "but not allowed here.")
    kw: dict[str, Any] = {}

    def num(name: str, real: bool) -> Any:
        v = j[name]
        if isinstance(v, bool) or not isinstance(v, (int, float) if real else int):
            raise syntax_error(j, f"Type mismatch for member '{name}'.")
        return float(v) if real else v

    if t == "integer":
        kw["min_integer"] = num("minInteger", False) if "minInteger" in j else INT64_MIN
        kw["max_integer"] = num("maxInteger", False) if "maxInteger" in j else INT64_MAX
        if kw["min_integer"] > kw["max_integer"]:
            raise syntax_error(j, "minInteger exceeds maxInteger")
    elif t == "real":
        kw["min_real"] = num("minReal", True) if "minReal" in j else -DBL_MAX
        kw["max_real"] = num("maxReal", True) if "maxReal" in j else DBL_MAX
        if kw["min_real"] > kw["max_real"]:
            raise syntax_error(j, "minReal exceeds maxReal")
    elif t == "string":
        kw["min_length"] = num("minLength", False) if "minLength" in j else 0
        kw["max_length"] = num("maxLength", False) if "maxLength" in j else UINT_MAX
        if not 0 <= kw["min_length"] <= kw["max_length"]:
            raise syntax_error(j, "minLength exceeds maxLength")
    elif t == "uuid" and "refTable" in j:
        if not isinstance(j["refTable"], str) or not _ID.match(j["refTable"]):
            raise syntax_error(j, "Type mismatch for member 'refTable'.")
        kw["ref_table"] = j["refTable"]
        rt = j.get("refType", "strong")
        if rt not in ("strong", "weak"):
            raise syntax_error(j, 'refType must be "strong" or "weak" (not "%s")' % rt)
        kw["ref_type"] = rt
    elif "refType" in j:
        raise syntax_error(j, "refType requires refTable")
    if "enum" in j:
        enum_type = Type(BaseType(t), None, 1, UNLIMITED)
        kw["enum"] = datum_from_json(enum_type, j["enum"])
    return BaseType(t, **kw)


def base_type_to_json(b: BaseType) -> Any:
    if not b.has_constraints():
        return b.type
    out: dict[str, Any] = {"type": b.type}
    if b.enum is not None:
        out["enum"] = datum_to_json(b.enum, Type(BaseType(b.type), None, 1, UNLIMITED))
    if b.min_integer != INT64_MIN:
        out["minInteger"] = b.min_integer
    if b.max_integer != INT64_MAX:
        out["maxInteger"] = b.max_integer
    if b.min_real != -DBL_MAX:
        out["minReal"] = _real(b.min_real)
    if b.max_real != DBL_MAX:
        out["maxReal"] = _real(b.max_real)
    if b.min_length != 0:
        out["minLength"] = b.min_length
    if b.max_length != UINT_MAX:
        out["maxLength"] = b.max_length
    if b.ref_table is not None:
        out["refTable"] = b.ref_table
        if b.ref_type == "weak":
            out["refType"] = "weak"
    return out


def type_from_json(j: Any) -> Type:
    if isinstance(j, str):
        return Type(base_type_from_json(j))
    if not isinstance(j, dict) or "key" not in j:
        raise syntax_error(j, "Required 'key' member is missing." if isinstance(j, dict)
                           else "ovsdb type must be a string or an object")
    for k in j:
        if k not in ("key", "value", "min", "max"):
            raise syntax_error(j, f"Member '{k}' is present but not allowed here.")
    key = base_type_from_json(j["key"])
    value = base_type_from_json(j["value"]) if "value" in j else None
    n_min = j.get("min", 1)
    if isinstance(n_min, bool) or not isinstance(n_min, int):
        raise syntax_error(j, "Type mismatch for member 'min'.")
    n_max = j.get("max", 1)
    if n_max == "unlimited":
        n_max = UNLIMITED
    elif isinstance(n_max, bool) or not isinstance(n_max, int):
        raise syntax_error(j, 'max must be a positive integer or "unlimited"')
    if not (0 <= n_min <= 1 and n_min <= n_max and 1 <= n_max <= UINT_MAX):
        raise syntax_error(j, "ovsdb type fails constraint checks")
    return Type(key, value, n_min, n_max)


def type_to_json(t: Type) -> Any:
    if t.is_scalar and not t.key.has_constraints():
        return t.key.type
    out: dict[str, Any] = {"key": base_type_to_json(t.key)}
    if t.value is not None:
        out["value"] = base_type_to_json(t.value)
    if t.n_min != 1:
        out["min"] = t.n_min
    if t.n_max == UNLIMITED:
        out["max"] = "unlimited"
    elif t.n_max != 1:
        out["max"] = t.n_max
    return out




@dataclass(frozen=True, slots=True)
class ColumnSchema:
    name: str
    type: Type
    mutable: bool = True
    ephemeral: bool = False

    @classmethod
    def from_json(cls, name: str, j: Any) -> ColumnSchema:
        if not isinstance(j, dict) or "type" not in j:
            raise syntax_error(j, "Parsing column %s failed: Required 'type' member is "
                               "missing." % name)
        for k in j:
            if k not in ("type", "ephemeral", "mutable"):
                raise syntax_error(j, f"Member '{k}' is present but not allowed here.")
        for k in ("ephemeral", "mutable"):
            if k in j and not isinstance(j[k], bool):
                raise syntax_error(j, f"Type mismatch for member '{k}'.")
        t = type_from_json(j["type"])
        mutable = j.get("mutable", True)
        # OVS: a weak reference must be removable when its target goes, so it is
        # always mutable whatever the schema says.
        if t.key.is_weak_ref or (t.value is not None and t.value.is_weak_ref):
            mutable = True
        return cls(name, t, mutable, j.get("ephemeral", False))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": type_to_json(self.type)}
        if self.ephemeral:
            out["ephemeral"] = True
        if not self.mutable:
            out["mutable"] = False
        return out


IMPLICIT_COLUMNS = ("_uuid", "_version")
T = TypeVar("T")


def per_table(derive: Callable[[TableSchema], T]) -> Callable[[TableSchema], T]:
    """Memoise something derived from a table's schema (its column order, its reference
    columns, its defaults): schemas never change once parsed, so it is worked out once
    per TableSchema object. A converted database brings new objects, hence new entries."""
    cache: dict[int, tuple[TableSchema, T]] = {}

    def get(ts: TableSchema) -> T:
        hit = cache.get(id(ts))
        if hit is None or hit[0] is not ts:
            hit = cache[id(ts)] = (ts, derive(ts))
        return hit[1]

    get.__doc__ = derive.__doc__
    return get


@per_table
def column_order(ts: TableSchema) -> tuple[str, ...]:
    """Iteration order of OVS's table->schema->columns for a schema read from a file
    whose columns appear in ts's order."""
    return tuple(ovs_order(["_uuid", "_version", *ovs_order(ts.user_columns)]))


@dataclass(frozen=True, slots=True)
class TableSchema:
    name: str
    columns: dict[str, ColumnSchema]
    max_rows: int | None = None
    is_root: bool = True
    indexes: tuple[tuple[str, ...], ...] = ()
    declared_root: bool = False  # what the file said; to_json needs it
    user_columns: dict[str, ColumnSchema] = field(default_factory=dict)

    @classmethod
    def from_json(cls, name: str, j: Any) -> TableSchema:
        if not isinstance(j, dict):
            raise syntax_error(j, f"table {name} must be an object")
        for k in j:
            if k not in ("columns", "maxRows", "isRoot", "indexes"):
                raise syntax_error(j, f"Parsing table schema for table {name} failed: "
                                   f"Member '{k}' is present but not allowed here.")
        cols_j = j.get("columns")
        if not isinstance(cols_j, dict):
            raise syntax_error(j, f"Parsing table schema for table {name} failed: "
                               "Required 'columns' member is missing.")
        if not cols_j:
            raise syntax_error(j, "table must have at least one column")
        columns = {
            "_uuid": ColumnSchema("_uuid", UUID_TYPE, False),
            "_version": ColumnSchema("_version", UUID_TYPE, False),
        }
        user: dict[str, ColumnSchema] = {}
        for cname, cj in cols_j.items():
            if cname.startswith("_"):
                raise syntax_error(j, 'names beginning with "_" are reserved')
            if not _ID.match(cname):
                raise syntax_error(cj, f"{cname}: invalid identifier")
            columns[cname] = user[cname] = ColumnSchema.from_json(cname, cj)
        max_rows = j.get("maxRows")
        if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int)
                                     or max_rows < 1):
            raise syntax_error(j, "maxRows must be at least 1")
        is_root = j.get("isRoot", False)
        if not isinstance(is_root, bool):
            raise syntax_error(j, "Type mismatch for member 'isRoot'.")
        indexes = []
        indexes_j = j.get("indexes", [])
        if not isinstance(indexes_j, list):
            raise syntax_error(j, f"Parsing table schema for table {name} failed: "
                               "Type mismatch for member 'indexes'.")
        for ij in indexes_j:
            if not isinstance(ij, list) or not ij:
                raise syntax_error(ij, "index must have at least one column")
            for c in ij:
                if not isinstance(c, str) or c not in columns:
                    raise syntax_error(ij, f"{c} is not a valid column name")
                if columns[c].ephemeral:
                    raise syntax_error(j, f"ephemeral columns (such as {c}) may not be "
                                       "indexed")
            indexes.append(tuple(ij))
        return cls(name, columns, max_rows, is_root, tuple(indexes), is_root, user)

    def to_json(self, default_is_root: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"columns": {n: c.to_json() for n, c in self.user_columns.items()}}
        if self.max_rows is not None:
            out["maxRows"] = self.max_rows
        if self.is_root != default_is_root:
            out["isRoot"] = self.is_root
        if self.indexes:
            out["indexes"] = [list(i) for i in self.indexes]
        return out


@dataclass(frozen=True, slots=True)
class DatabaseSchema:
    name: str
    version: str | None
    cksum: str | None
    tables: dict[str, TableSchema]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.version is not None:
            out["version"] = self.version
        if self.cksum is not None:
            out["cksum"] = self.cksum
        # OVS writes isRoot only where it differs from the default, and the default is
        # "root" exactly when every table is (which includes "no table said isRoot").
        default_root = all(t.is_root for t in self.tables.values())
        out["tables"] = {n: t.to_json(default_root) for n, t in self.tables.items()}
        return out

    def table(self, name: str) -> TableSchema | None:
        return self.tables.get(name)


def parse_schema(obj: Any) -> DatabaseSchema:
    if not isinstance(obj, dict):
        raise OvsdbError("syntax error", "database schema must be a JSON object")
    # As OVS's ovsdb_parser: the members it asks for, in its order (missing or of the
    # wrong type), then members it does not know; all "Parsing database schema failed".
    fail = "Parsing database schema failed: "
    for member, ok, required in (
            ("name", lambda v: isinstance(v, str) and bool(_ID.match(v)), True),
            ("version", lambda v: isinstance(v, str), False),
            ("cksum", lambda v: isinstance(v, str), False),
            ("tables", lambda v: isinstance(v, dict), True)):
        if member not in obj:
            if required:
                raise syntax_error(obj, f"{fail}Required '{member}' member is missing.")
        elif not ok(obj[member]):
            raise syntax_error(obj, f"{fail}Type mismatch for member '{member}'.")
    for k in obj:
        if k not in ("name", "version", "cksum", "tables", "doc"):
            raise syntax_error(obj, f"{fail}Member '{k}' is present but not allowed here.")
    name = obj["name"]
    version = obj.get("version")
    if version is not None and not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise syntax_error(obj, f"schema version \"{version}\" not in format x.y.z")
    cksum = obj.get("cksum")
    tj = obj["tables"]
    tables: dict[str, TableSchema] = {}
    for tname, t in tj.items():
        if not _ID.match(tname):
            raise syntax_error(t, f"{tname}: invalid table name")
        tables[tname] = TableSchema.from_json(tname, t)
    for ts in tables.values():
        for col in ts.user_columns.values():
            for base in (col.type.key, col.type.value):
                if base is not None and base.ref_table is not None \
                        and base.ref_table not in tables:
                    which = "key" if base is col.type.key else "value"
                    raise OvsdbError("syntax error", f"column {col.name} {which} refers to "
                                     f"undefined table {base.ref_table}")
    # Before isRoot existed there was no garbage collection: with no root table at
    # all, every table is a root (OVS keeps this for old schemas).
    if not any(t.is_root for t in tables.values()):
        tables = {n: replace(t, is_root=True) for n, t in tables.items()}
    return DatabaseSchema(name, version, cksum, tables)


def load_schema(path: str | Path) -> DatabaseSchema:
    return parse_schema(orjson.loads(Path(path).read_bytes()))
