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
    Type.key (BaseType)/.value (BaseType | None)/.n_min/.n_max (UNLIMITED = 2**32-1,
        as OVS stores "unlimited"); .is_map/.is_set/.is_scalar/.is_optional
        /.is_composite (n_max > 1: update2 diffs are set-like)/.to_english()
    BaseType.type ("integer"|"real"|"boolean"|"string"|"uuid")/.enum (Datum | None)
        /.min_integer/.max_integer/.min_real/.max_real/.min_length/.max_length
        /.ref_table (str | None)/.ref_type ("strong"|"weak")/.is_strong_ref/.is_weak_ref
    Type.scalar(atomic) and BaseType(atomic) build unconstrained types.
Invalid schemas raise reference.errors.OvsdbError("syntax error", details).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from reference.errors import OvsdbError, syntax_error
from reference.ovs_hash import ovs_order

if TYPE_CHECKING:
    from reference.datum import Datum

ATOMIC_TYPES = ("integer", "real", "boolean", "string", "uuid")
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
DBL_MAX = sys.float_info.max
UINT_MAX = 2**32 - 1
UNLIMITED = UINT_MAX  # OVS keeps "unlimited" as UINT_MAX and prints it that way
_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _real(x: float) -> int | float:
    # OVS writes reals with "%.15g", so 1000000.0 goes out as 1000000.
    from reference.datum import real_to_json

    return real_to_json(x)


@dataclass(frozen=True, slots=True)
class BaseType:
    type: str
    enum: Datum | None = None
    min_integer: int = INT64_MIN
    max_integer: int = INT64_MAX
    min_real: float = -DBL_MAX
    max_real: float = DBL_MAX
    min_length: int = 0
    max_length: int = UINT_MAX
    ref_table: str | None = None
    ref_type: str = "strong"

    @property
    def is_strong_ref(self) -> bool:
        return self.ref_table is not None and self.ref_type == "strong"

    @property
    def is_weak_ref(self) -> bool:
        return self.ref_table is not None and self.ref_type == "weak"

    def has_constraints(self) -> bool:
        return (self.enum is not None or self.min_integer != INT64_MIN
                or self.max_integer != INT64_MAX or self.min_real != -DBL_MAX
                or self.max_real != DBL_MAX or self.min_length != 0
                or self.max_length != UINT_MAX or self.ref_table is not None)

    def without_constraints(self) -> BaseType:
        return BaseType(self.type)

    @classmethod
    def from_json(cls, j: Any) -> BaseType:
        if isinstance(j, str):
            if j not in ATOMIC_TYPES:
                raise syntax_error(j, f'"{j}" is not an atomic-type')
            return cls(j)
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
            from reference.datum import datum_from_json  # datum imports this module

            enum_type = Type(BaseType(t), None, 1, UNLIMITED)
            kw["enum"] = datum_from_json(enum_type, j["enum"])
        return cls(t, **kw)

    def to_json(self) -> Any:
        if not self.has_constraints():
            return self.type
        out: dict[str, Any] = {"type": self.type}
        if self.enum is not None:
            from reference.datum import datum_to_json

            out["enum"] = datum_to_json(self.enum, Type(BaseType(self.type), None, 1, UNLIMITED))
        if self.min_integer != INT64_MIN:
            out["minInteger"] = self.min_integer
        if self.max_integer != INT64_MAX:
            out["maxInteger"] = self.max_integer
        if self.min_real != -DBL_MAX:
            out["minReal"] = _real(self.min_real)
        if self.max_real != DBL_MAX:
            out["maxReal"] = _real(self.max_real)
        if self.min_length != 0:
            out["minLength"] = self.min_length
        if self.max_length != UINT_MAX:
            out["maxLength"] = self.max_length
        if self.ref_table is not None:
            out["refTable"] = self.ref_table
            if self.ref_type == "weak":
                out["refType"] = "weak"
        return out


@dataclass(frozen=True, slots=True)
class Type:
    key: BaseType
    value: BaseType | None = None
    n_min: int = 1
    n_max: int = 1

    @classmethod
    def scalar(cls, atomic: str) -> Type:
        return cls(BaseType(atomic))

    @property
    def is_map(self) -> bool:
        return self.value is not None

    @property
    def is_set(self) -> bool:
        # OVS: a 0..1 column is a set too (ovsdb_type_is_set).
        return self.value is None and (self.n_min != 1 or self.n_max != 1)

    @property
    def is_scalar(self) -> bool:
        return self.value is None and self.n_min == 1 and self.n_max == 1

    @property
    def is_optional(self) -> bool:
        return self.n_min == 0 and self.n_max == 1

    @property
    def is_composite(self) -> bool:
        return self.n_max > 1

    def to_english(self) -> str:
        """OVS's ovsdb_type_to_english(), used in mutation error details."""
        if self.is_scalar:
            return self.key.type
        s = "set" if self.is_set else "map"
        if self.n_max == UNLIMITED:
            s += f" of {self.n_min} or more" if self.n_min else " of"
        elif self.n_min:
            s += f" of {self.n_min} to {self.n_max}"
        else:
            s += f" of up to {self.n_max}"
        if self.is_set:
            return f"{s} {self.key.type}s"
        assert self.value is not None
        return f"{s} ({self.key.type}, {self.value.type}) pairs"

    @classmethod
    def from_json(cls, j: Any) -> Type:
        if isinstance(j, str):
            return cls(BaseType.from_json(j))
        if not isinstance(j, dict) or "key" not in j:
            raise syntax_error(j, "Required 'key' member is missing." if isinstance(j, dict)
                               else "ovsdb type must be a string or an object")
        for k in j:
            if k not in ("key", "value", "min", "max"):
                raise syntax_error(j, f"Member '{k}' is present but not allowed here.")
        key = BaseType.from_json(j["key"])
        value = BaseType.from_json(j["value"]) if "value" in j else None
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
        return cls(key, value, n_min, n_max)

    def to_json(self) -> Any:
        if self.is_scalar and not self.key.has_constraints():
            return self.key.type
        out: dict[str, Any] = {"key": self.key.to_json()}
        if self.value is not None:
            out["value"] = self.value.to_json()
        if self.n_min != 1:
            out["min"] = self.n_min
        if self.n_max == UNLIMITED:
            out["max"] = "unlimited"
        elif self.n_max != 1:
            out["max"] = self.n_max
        return out


UUID_TYPE = Type(BaseType("uuid"))


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
        t = Type.from_json(j["type"])
        mutable = j.get("mutable", True)
        # OVS: a weak reference must be removable when its target goes, so it is
        # always mutable whatever the schema says.
        if t.key.is_weak_ref or (t.value is not None and t.value.is_weak_ref):
            mutable = True
        return cls(name, t, mutable, j.get("ephemeral", False))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type.to_json()}
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
        for ij in j.get("indexes", []):
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
