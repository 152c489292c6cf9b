"""Transactions out of a history: what the list-append checker reads.

A transaction is one client op with ``f == "txn"`` whose value is a list of
micro-ops, as Jepsen's Elle writes them (``:value [[:append 3 7] [:r 4 [1 2]]]``; the
EDN reader turns keywords into names)::

    ["append", key, element]     append element to key's list
    ["r", key, list | None]      read key's list (None on the invoke: not known yet)

The completion of an ``ok`` op carries the values read; a ``fail`` or ``info`` op keeps
its invoke's value (its reads are unknown).  Keys and elements may be integers or
strings; a JSON list as a key becomes a tuple so it can index a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.history import HistoryError, Op, Operation, pair

F = "txn"
APPEND, READ = "append", "r"


@dataclass(slots=True)
class Txn:
    """One transaction: the node of the dependency graph it may become."""

    id: int  # position in the list of transactions; the node number
    status: str  # ok | fail | info
    process: int | str
    mops: list[tuple[str, Any, Any]]
    call_index: int
    return_index: int | None
    call_time: int
    return_time: int | None
    # key -> elements this transaction appended to it, in order
    appends: dict[Any, list[Any]] = field(default_factory=dict)

    def label(self) -> str:
        """How a report names it: ``T12`` plus where it is in the history."""
        end = "" if self.return_index is None else f"-{self.return_index}"
        return f"T{self.id} (p{self.process}, {self.status}, history {self.call_index}{end})"

    def text(self) -> str:
        """The transaction as Elle prints one: ``[[append 3 7] [r 4 [1 2]]]``."""
        return "[" + " ".join(_mop_text(m) for m in self.mops) + "]"


def _mop_text(m: tuple[str, Any, Any]) -> str:
    f, k, v = m
    if isinstance(v, list):
        v = "[" + " ".join(map(str, v)) + "]"
    return f"[{f} {k} {'nil' if v is None else v}]"


def _hashable(x: Any) -> Any:
    return tuple(_hashable(v) for v in x) if isinstance(x, list) else x


def _mops(value: Any, op: Op) -> list[tuple[str, Any, Any]]:
    if not isinstance(value, list):
        raise HistoryError(op.line, f"a txn's value must be a list of micro-ops, got "
                                    f"{value!r}")
    out = []
    for m in value:
        if not (isinstance(m, list | tuple) and len(m) == 3 and m[0] in (APPEND, READ)):
            raise HistoryError(op.line, f"not a list-append micro-op: {m!r} (expected "
                                        "[append k v] or [r k list])")
        f, k, v = m
        if f == READ and v is not None and not isinstance(v, list):
            raise HistoryError(op.line, f"a read's value must be a list or nil, got {v!r}")
        out.append((f, _hashable(k), list(v) if f == READ and v is not None
                    else _hashable(v)))
    return out


def transactions(history: list[Op]) -> list[Txn]:
    """The ``txn`` ops of a history, paired, in invocation order."""
    out: list[Txn] = []
    for o in pair(history):
        if o.f != F:
            continue
        out.append(_txn(len(out), o))
    return out


def _txn(i: int, o: Operation) -> Txn:
    value = o.output if o.status == "ok" else o.input
    mops = _mops(value, o.complete if o.status == "ok" and o.complete else o.invoke)
    if o.status != "ok":
        # Reads of a transaction that did not complete are unknown, whatever it said.
        mops = [(f, k, None) if f == READ else (f, k, v) for f, k, v in mops]
    t = Txn(i, o.status, o.process, mops, o.call_index, o.return_index, o.call_time,
            o.return_time)
    for f, k, v in mops:
        if f == APPEND:
            t.appends.setdefault(k, []).append(v)
    return t
