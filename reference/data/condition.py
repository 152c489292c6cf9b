"""Conditions: RFC 7047 "where" clauses, parsed and evaluated once for every context.

ovsdb-server 3.1 parses the ``where`` of transact ops (select, update, mutate, delete,
wait) and the conditions of monitor_cond / monitor_cond_change with the same code, and
so does this module.  The contexts differ only in how clauses combine and in one input:

- a transact ``where`` is the AND of its clauses (``parse_where`` -> ``Where``) and may
  name rows inserted earlier in the transaction (``["named-uuid", ...]``, resolved through
  the transaction's symbol table);
- a monitor condition is the OR of its clauses (``parse_monitor_condition`` ->
  ``MonitorCondition``) and has no symbol table, so a named-uuid is a syntax error there.

Argument types follow OVS: an ordering function takes exactly one number; ``includes``
takes at most as many elements as the column holds (more could never be included), while
``excludes`` takes any number (a row can exclude more values than its column can hold);
every other function takes a value of the column's own type.

A ``MonitorCondition`` is normalised so that equivalent conditions share one key, which
is what the monitor engine groups sessions by, and it names the *index terms* its
dispatch index files it under (see reference/monitor/condition_index.py).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from reference.data.datum import Datum, SymbolTable, datum_from_json
from reference.data.errors import OvsdbError, syntax_error
from reference.data.schema import ColumnSchema, TableSchema
from reference.data.types import UNLIMITED, Type

FUNCTIONS = ("==", "!=", "<", "<=", ">", ">=", "includes", "excludes")
ORDERING = ("<", "<=", ">", ">=")
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}

Row = Mapping[str, Datum]
# (column, "==" | "includes", key): a row can match the clause only if its column equals
# key ("==") or holds the element key ("includes"), so a dispatcher may index by it.
IndexTerm = tuple[str, str, Any]


@dataclass(frozen=True, slots=True)
class Clause:
    """One parsed ``[column, function, arg]`` clause."""

    column: str
    function: str
    arg: Datum

    def match(self, row: Row) -> bool:
        cell = row[self.column]
        function = self.function
        if function == "==":  # the common case first: this runs per changed row
            return cell == self.arg
        if function == "!=":
            return cell != self.arg
        if function == "includes":
            return _includes(cell, self.arg)
        if function == "excludes":
            return _excludes(cell, self.arg)
        # Ordering: the argument is one number; an empty optional column never matches.
        return bool(cell.keys) and _ORDER[function](cell.keys[0], self.arg.keys[0])

    @property
    def key(self) -> tuple:
        """Equal clauses have equal keys.  The datum's own (sorted) content makes them
        equal; str() of the atoms keeps keys of different columns comparable, so a
        condition's clauses can be sorted into a canonical order."""
        arg = self.arg
        return (self.column, self.function, tuple(map(str, arg.keys)),
                None if arg.values is None else tuple(map(str, arg.values)))

    def index_term(self) -> IndexTerm | None:
        if self.function == "==":
            return (self.column, "==", self.arg)
        if self.function == "includes" and self.arg.keys:
            # A matching row holds every element of arg, so it holds the first one.
            arg = self.arg
            if arg.values is None:
                return (self.column, "includes", arg.keys[0])
            return (self.column, "includes", (arg.keys[0], arg.values[0]))
        return None


def _includes(cell: Datum, arg: Datum) -> bool:
    if arg.values is None:
        # A linear scan beats building a set for the few atoms most cells hold.
        have = cell.as_keyset() if len(cell.keys) > 8 else cell.keys
        return all(a in have for a in arg.keys)
    pairs = cell.as_dict()
    return all(k in pairs and pairs[k] == v for k, v in zip(arg.keys, arg.values, strict=True))


def _excludes(cell: Datum, arg: Datum) -> bool:
    if arg.values is None:
        have = cell.as_keyset()
        return not any(a in have for a in arg.keys)
    # Maps exclude key/value pairs, not keys.
    pairs = cell.as_dict()
    return not any(k in pairs and pairs[k] == v
                   for k, v in zip(arg.keys, arg.values, strict=True))


def split_triple(table: TableSchema, j: Any, what: str) -> tuple[ColumnSchema, str, Any]:
    """``[column, function, arg]`` -> (the column's schema, function, arg JSON), with
    OVS's errors for a malformed triple or an unknown column.  Conditions and mutations
    (``what``: "condition" or "mutation") share this shape."""
    if not (isinstance(j, list) and len(j) == 3 and isinstance(j[0], str)
            and isinstance(j[1], str)):
        raise syntax_error(j, f"Parse error in {what}.")
    column = table.columns.get(j[0])
    if column is None:
        raise syntax_error(j, f"No column {j[0]} in table {table.name}.", "unknown column")
    return column, j[1], j[2]


def _arg_type(function: str, t: Type) -> Type:
    if function in ORDERING:
        return Type(t.key, None, 1, 1)
    if function == "excludes" and not t.is_scalar:
        return replace(t, n_min=0, n_max=UNLIMITED)
    if function == "includes" and not t.is_scalar:
        return replace(t, n_min=0)
    return t


def parse_clause(table: TableSchema, j: Any, symtab: SymbolTable | None = None
                 ) -> Clause | bool:
    """One clause: a Clause, or the literal ``true`` / ``false``."""
    if j is True or j is False:
        return j
    column, function, arg_j = split_triple(table, j, "condition")
    if function not in FUNCTIONS:
        raise OvsdbError("unknown function", f"No function named {function}.")
    t = column.type
    if function in ORDERING and not (t.value is None and t.n_max == 1
                                     and t.key.type in ("integer", "real")):
        raise syntax_error(j, f'Type mismatch: "{function}" operator may not be applied to '
                           f"column {j[0]} of type {t.to_english()}.")
    return Clause(j[0], function, datum_from_json(_arg_type(function, t), arg_j, symtab))


def _parse_clauses(table: TableSchema, j: Any, symtab: SymbolTable | None
                   ) -> list[Clause | bool]:
    if not isinstance(j, list):
        raise syntax_error(j, "Parse error in condition.")
    return [parse_clause(table, c, symtab) for c in j]


# -- transact: clauses ANDed -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Where:
    """The AND of a transact op's clauses; ``true`` clauses are dropped, one ``false``
    makes ``never`` (no row matches).  An empty where matches every row."""

    clauses: tuple[Clause, ...]
    never: bool = False

    def match(self, row: Row) -> bool:
        if self.never:
            return False
        for clause in self.clauses:
            if not clause.match(row):
                return False
        return True


def parse_where(table: TableSchema, j: Any, symtab: SymbolTable | None = None) -> Where:
    parsed = _parse_clauses(table, j, symtab)
    return Where(tuple(c for c in parsed if not isinstance(c, bool)), False in parsed)


# -- monitors: clauses ORed, normalised ----------------------------------------------------

_TRUE_KEY: tuple = ("true",)
_FALSE_KEY: tuple = ("false",)


@dataclass(frozen=True, eq=False, slots=True)
class MonitorCondition:
    """The normalised OR-condition of one table of one monitor: clauses deduplicated and
    sorted by key, a ``true`` clause makes the whole condition TRUE, ``false`` clauses
    are dropped (all false -> FALSE), an empty list and an absent ``where`` are TRUE."""

    key: tuple                        # hashable: _TRUE_KEY, _FALSE_KEY or the clause keys
    clauses: tuple[Clause, ...] = ()  # empty for TRUE and FALSE

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the clauses read: OVS tracks them with the monitored ones, so a
        change to one of them alone still sends a (possibly empty) modify."""
        return tuple(dict.fromkeys(c.column for c in self.clauses))

    @property
    def always(self) -> bool:
        return self.key == _TRUE_KEY

    @property
    def never(self) -> bool:
        return self.key == _FALSE_KEY

    def match(self, row: Row) -> bool:
        if self.key == _TRUE_KEY:
            return True
        for clause in self.clauses:
            if clause.match(row):
                return True
        return False

    def index_terms(self) -> list[IndexTerm] | None:
        """One term per clause, or None if any clause has none (then the condition must
        be evaluated for every row)."""
        terms = []
        for clause in self.clauses:
            term = clause.index_term()
            if term is None:
                return None
            terms.append(term)
        return terms


TRUE = MonitorCondition(_TRUE_KEY)
FALSE = MonitorCondition(_FALSE_KEY)


def _any_of(clauses: Iterable[Clause | bool]) -> MonitorCondition:
    """The normalised OR of parsed clauses."""
    keep: dict[tuple, Clause] = {}
    seen_false = False
    for clause in clauses:
        if clause is True:
            return TRUE
        if clause is False:
            seen_false = True
            continue
        keep.setdefault(clause.key, clause)  # type: ignore[union-attr]
    if not keep:
        return FALSE if seen_false else TRUE
    keys = sorted(keep)
    return MonitorCondition(tuple(keys), tuple(keep[k] for k in keys))


def parse_monitor_condition(table: TableSchema, j: Any) -> MonitorCondition:
    """A monitor's ``where`` for ``table``; None (absent) is TRUE."""
    if j is None:
        return TRUE
    return _any_of(_parse_clauses(table, j, None))
