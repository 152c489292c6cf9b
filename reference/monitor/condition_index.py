"""Monitor conditions, normalised for sharing, and the index that dispatches row changes
to only the conditions that can match them.

A table's condition (the OR of its clauses) is normalised so that equivalent conditions
share one key: clauses are deduplicated and sorted, a ``true`` clause makes the whole
condition TRUE, ``false`` clauses are dropped (all false -> FALSE), an empty list and an
absent ``where`` are TRUE.

``ConditionIndex`` (one per monitor group and table) files each registered condition
under one bucket:

- TRUE conditions: ``always`` (match every row, no evaluation);
- FALSE conditions: nowhere (match nothing);
- conditions whose every clause is ``[col, "==", v]`` or ``[col, "includes", v]`` with a
  non-empty ``v``: under each clause's key (``==``: the whole datum; ``includes``: one
  element of ``v``, since a row must hold all of them, it must hold that one);
- anything else: ``fallback`` (evaluated for every row).

``candidates(row)`` looks up the row's own values, so its cost is proportional to the
size of the row's indexed cells plus the number of conditions that can match it, not to
the number of conditions registered.  Candidates are still evaluated in full by the
caller (an ``includes`` bucket only proves one element).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reference.monitor import rows as R

TRUE_KEY: tuple = ("true",)
FALSE_KEY: tuple = ("false",)


@dataclass(frozen=True, eq=False)
class TableCond:
    """The normalised OR-condition of one table of one monitor."""

    key: tuple                       # hashable identity (TRUE_KEY, FALSE_KEY or clauses)
    clauses: tuple = ()              # R.Clause objects (empty for TRUE/FALSE)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the clauses read: OVS tracks them with the monitored ones, so a
        change to one of them alone still sends a (possibly empty) modify."""
        return tuple(dict.fromkeys(c.column for c in self.clauses))

    def columns_changed(self, old: Any, new: Any) -> bool:
        return any(R.cell(old, c) != R.cell(new, c) for c in self.columns)

    @property
    def always(self) -> bool:
        return self.key == TRUE_KEY

    @property
    def never(self) -> bool:
        return self.key == FALSE_KEY

    def match(self, row: Any) -> bool:
        if self.key == TRUE_KEY:
            return True
        for clause in self.clauses:
            if R.clause_matches(clause, row):
                return True
        return False

    def index_terms(self) -> list[tuple[str, str, Any]] | None:
        """(column, "==" | "includes", key) per clause, or None if any clause is not
        indexable (then the whole condition must be evaluated for every row)."""
        terms = []
        for clause in self.clauses:
            term = R.clause_index_term(clause)
            if term is None:
                return None
            terms.append(term)
        return terms


TRUE = TableCond(TRUE_KEY)
FALSE = TableCond(FALSE_KEY)


def normalise(clauses: Iterable[Any]) -> TableCond:
    """Build a TableCond from parsed clauses (R.Clause, or the booleans True/False)."""
    keep: dict[tuple, Any] = {}
    seen_false = False
    for clause in clauses:
        if clause is True:
            return TRUE
        if clause is False:
            seen_false = True
            continue
        keep.setdefault(R.clause_key(clause), clause)
    if not keep:
        return FALSE if seen_false else TRUE
    keys = sorted(keep)
    return TableCond(tuple(keys), tuple(keep[k] for k in keys))


@dataclass(eq=False)
class ConditionIndex:
    """Which registered conditions (opaque hashable owners) can match a row of a table."""

    always: set = field(default_factory=set)
    fallback: dict = field(default_factory=dict)            # owner -> TableCond
    eq: dict[str, dict[Any, set]] = field(default_factory=dict)
    inc: dict[str, dict[Any, set]] = field(default_factory=dict)
    _terms: dict = field(default_factory=dict)              # owner -> its terms

    def add(self, owner: Any, cond: TableCond) -> None:
        if cond.never:
            return
        if cond.always:
            self.always.add(owner)
            return
        terms = cond.index_terms()
        if terms is None:
            self.fallback[owner] = cond
            return
        self._terms[owner] = terms
        for column, fn, key in terms:
            table = self.eq if fn == "==" else self.inc
            table.setdefault(column, {}).setdefault(key, set()).add(owner)

    def remove(self, owner: Any) -> None:
        self.always.discard(owner)
        self.fallback.pop(owner, None)
        for column, fn, key in self._terms.pop(owner, ()):
            table = self.eq if fn == "==" else self.inc
            bucket = table[column][key]
            bucket.discard(owner)
            if not bucket:
                del table[column][key]
                if not table[column]:
                    del table[column]

    def candidates(self, row: Any, out: set) -> None:
        """Add to ``out`` every owner whose condition may match ``row``."""
        if row is None:
            return
        out |= self.always
        out.update(self.fallback)
        for column, buckets in self.eq.items():
            owners = buckets.get(R.cell_key(row, column))
            if owners:
                out |= owners
        for column, buckets in self.inc.items():
            for element in R.cell_elements(row, column):
                owners = buckets.get(element)
                if owners:
                    out |= owners

    def __len__(self) -> int:
        return len(self.always) + len(self.fallback) + len(self._terms)
