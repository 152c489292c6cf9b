"""The index that dispatches row changes to only the monitor conditions that can match
them.

``ConditionIndex`` (one per monitor group and table) files each registered condition
(a normalised ``reference.data.condition.MonitorCondition``) under one bucket:

- TRUE conditions: ``always`` (match every row, no evaluation);
- FALSE conditions: nowhere (match nothing);
- conditions whose every clause has an index term (``[col, "==", v]``, or
  ``[col, "includes", v]`` with a non-empty ``v``): under each clause's key (``==``: the
  whole datum; ``includes``: one element of ``v``, since a row must hold all of them, it
  must hold that one);
- anything else: ``fallback`` (evaluated for every row).

``candidates(row)`` looks up the row's own values, so its cost is proportional to the
size of the row's indexed cells plus the number of conditions that can match it, not to
the number of conditions registered.  Candidates are still evaluated in full by the
caller (an ``includes`` bucket only proves one element).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reference.data.condition import MonitorCondition
from reference.monitor.rows import cell_elements, cell_key


@dataclass(eq=False)
class ConditionIndex:
    """Which registered conditions (opaque hashable owners) can match a row of a table."""

    always: set = field(default_factory=set)
    fallback: dict = field(default_factory=dict)            # owner -> MonitorCondition
    eq: dict[str, dict[Any, set]] = field(default_factory=dict)
    inc: dict[str, dict[Any, set]] = field(default_factory=dict)
    _terms: dict = field(default_factory=dict)              # owner -> its terms

    def add(self, owner: Any, cond: MonitorCondition) -> None:
        if cond.never:
            return
        if cond.always:
            self.always.add(owner)
            return
        terms = cond.index_terms()
        if terms is None:
            self.fallback[owner] = cond
            return
        # Two clauses may share a term (includes {0} and includes {0, 1} are both
        # filed under element 0): file it once, so removing the owner takes it once.
        terms = tuple(dict.fromkeys(terms))
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
            owners = buckets.get(cell_key(row, column))
            if owners:
                out |= owners
        for column, buckets in self.inc.items():
            for element in cell_elements(row, column):
                owners = buckets.get(element)
                if owners:
                    out |= owners
