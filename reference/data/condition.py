"""Conditions: RFC 7047 "where" clauses (ANDed) and monitor conditions (ORed).

Public API (stable; the monitor engine builds on it):
    FUNCTIONS = ("<", "<=", "==", "!=", ">=", ">", "includes", "excludes")
    Clause(column, function, arg, type)  one parsed clause; for the booleans `true` and
        `false` column is None and function is "true"/"false".
        .indexable  True for [col, "==", value] and [col, "includes", value]: a row can
            only match if its column equals / contains arg, so a dispatcher may index
            rows by value. .evaluate(row) -> bool  (row: mapping column -> Datum).
    parse_clause(table_schema, j, symtab=None) -> Clause   OVS's exact errors.
    Condition(clauses, conjunction)  .evaluate(row); .is_true / .is_false (constant).
    parse_where(table_schema, j, symtab=None) -> Condition      ANDed; [] is true.
    parse_monitor_condition(table_schema, j) -> Condition       ORed; [] is true.
    TRUE_CONDITION
Semantics follow ovsdb-server 3.1: ordering functions apply to integer/real scalar or
optional columns only and are false on an empty optional column; "==" / "!=" compare
whole datums; "includes" is arg subset of the column, "excludes" is disjointness (maps
compare key/value pairs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reference.data.datum import Datum, SymbolTable, datum_from_json
from reference.data.errors import OvsdbError, syntax_error
from reference.data.schema import TableSchema
from reference.data.types import UNLIMITED, Type

FUNCTIONS = ("<", "<=", "==", "!=", ">=", ">", "includes", "excludes")
ORDERING = ("<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class Clause:
    column: str | None
    function: str
    arg: Datum | None = None
    type: Type | None = None

    @property
    def indexable(self) -> bool:
        return self.column is not None and self.function in ("==", "includes")

    def to_json(self, arg_json: Any = None) -> Any:
        if self.column is None:
            return self.function == "true"
        return [self.column, self.function, arg_json]

    def evaluate(self, row: Mapping[str, Datum]) -> bool:
        f = self.function
        if f == "==" and self.column is not None:  # the common case first
            return row[self.column] == self.arg
        if self.column is None:
            return f == "true"
        field = row[self.column]
        arg = self.arg
        assert arg is not None
        if f in ORDERING:
            if not field.keys:
                return False
            x, y = field.keys[0], arg.keys[0]
            return (x < y if f == "<" else x <= y if f == "<=" else x > y if f == ">"
                    else x >= y)
        if f == "==":
            return field == arg
        if f == "!=":
            return field != arg
        if field.values is None:
            fk = field.as_keyset()
            if f == "includes":
                return all(k in fk for k in arg.keys)
            return not any(k in fk for k in arg.keys)
        fd = field.as_dict()
        pairs = zip(arg.keys, arg.values or (), strict=True)
        if f == "includes":
            return all(k in fd and fd[k] == v for k, v in pairs)
        return not any(k in fd and fd[k] == v for k, v in pairs)


def _type_mismatch(j: Any, f: str, col: str, t: Type) -> OvsdbError:
    return syntax_error(j, f'Type mismatch: "{f}" operator may not be applied to column '
                        f"{col} of type {t.to_english()}.")


def parse_clause(ts: TableSchema, j: Any, symtab: SymbolTable | None = None) -> Clause:
    if j is True or j is False:
        return Clause(None, "true" if j else "false")
    if not (isinstance(j, list) and len(j) == 3 and isinstance(j[0], str)
            and isinstance(j[1], str)):
        raise syntax_error(j, "Parse error in condition.")
    name, f, arg_j = j
    col = ts.columns.get(name)
    if col is None:
        raise syntax_error(j, f"No column {name} in table {ts.name}.", "unknown column")
    if f not in FUNCTIONS:
        raise OvsdbError("unknown function", f"No function named {f}.")
    t = col.type
    if f in ORDERING:
        if not (t.is_scalar or (t.is_optional and t.value is None)) \
                or t.key.type not in ("integer", "real"):
            raise _type_mismatch(j, f, name, t)
        arg_t = Type(t.key, None, 1, 1)
    elif f == "excludes" and not t.is_scalar:
        arg_t = Type(t.key, t.value, 0, UNLIMITED)
    elif f == "includes" and not t.is_scalar:
        arg_t = Type(t.key, t.value, 0, t.n_max)
    else:
        arg_t = t
    return Clause(name, f, datum_from_json(arg_t, arg_j, symtab), t)


@dataclass(frozen=True, slots=True)
class Condition:
    clauses: tuple[Clause, ...]
    conjunction: bool = True  # True: AND ("where"), False: OR (monitor conditions)

    @property
    def is_true(self) -> bool:
        if not self.clauses:
            return True
        fs = [c.function for c in self.clauses]
        return ("true" in fs) if not self.conjunction else all(f == "true" for f in fs)

    @property
    def is_false(self) -> bool:
        if not self.clauses:
            return False
        fs = [c.function for c in self.clauses]
        return ("false" in fs) if self.conjunction else all(f == "false" for f in fs)

    def evaluate(self, row: Mapping[str, Datum]) -> bool:
        if self.conjunction:
            for c in self.clauses:
                if not c.evaluate(row):
                    return False
            return True
        if not self.clauses:
            return True
        for c in self.clauses:
            if c.evaluate(row):
                return True
        return False


TRUE_CONDITION = Condition(())


def parse_where(ts: TableSchema, j: Any, symtab: SymbolTable | None = None) -> Condition:
    if not isinstance(j, list):
        raise syntax_error(j, "Parse error in condition.")
    return Condition(tuple(parse_clause(ts, c, symtab) for c in j), True)


def parse_monitor_condition(ts: TableSchema, j: Any) -> Condition:
    if not isinstance(j, list):
        raise syntax_error(j, "Parse error in condition.")
    return Condition(tuple(parse_clause(ts, c) for c in j), False)
