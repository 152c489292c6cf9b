"""The server's side of a monitor check: the database state after every committed
transaction, and which transaction wrote each row value (pure, no I/O)."""

from __future__ import annotations

from typing import Any

from harness.checkers.monitor.values import Columns, Row, matches, row_key

State = dict[str, dict[str, Row]]  # table -> uuid -> row
PRE_INITIAL = -1  # clock of a snapshot taken before the initial state (no clock row)


class WriteHistory:
    """States S_0..S_N and, for every row value, the transaction that wrote it."""

    def __init__(self, writes: dict[str, Any], cols: Columns, clock: tuple[str, str]):
        self.clock = clock
        self.cols = cols
        self.problems: list[str] = []
        state: State = {t: {u: cols.normalize(t, r) for u, r in rows.items()}
                        for t, rows in (writes.get("initial") or {}).items()}
        self.states: list[State] = [state]
        # (table, uuid) -> [(seq, row or None)] in seq order; seq 0 = initial.
        self.row_history: dict[tuple[str, str], list[tuple[int, Row | None]]] = {}
        for t, rows in state.items():
            for u, r in rows.items():
                self.row_history[t, u] = [(0, r)]
        for i, txn in enumerate(writes.get("txns") or [], start=1):
            if txn.get("seq") != i:
                self.problems.append(f"write history: txn #{i} has seq {txn.get('seq')}, "
                                     f"expected {i} (txns must be complete and in order)")
                break
            state = {t: dict(rows) for t, rows in state.items()}
            for t, changes in (txn.get("changes") or {}).items():
                rows = state.setdefault(t, {})
                for u, r in changes.items():
                    if r is None:
                        rows.pop(u, None)
                    else:
                        r = cols.normalize(t, r)
                        rows[u] = r
                    self.row_history.setdefault((t, u), []).append((i, r))
            self.states.append(state)

    @property
    def last(self) -> int:
        return len(self.states) - 1

    def view(self, seq: int, table: str, cond: list[Any] | None,
             columns: list[str] | None) -> dict[str, Row]:
        """The rows a client monitoring ``table`` with ``cond`` should hold at ``seq``."""
        if seq == PRE_INITIAL:
            return {}
        out = {}
        for u, r in self.states[seq].get(table, {}).items():
            if matches(r, cond, u):
                out[u] = project(r, columns)
        return out

    def source(self, table: str, uuid: str, row: Row, columns: list[str] | None,
               upto: int) -> int | None:
        """The transaction that wrote this (projected) row value: the latest at or before
        ``upto`` if there is one, else the earliest after it; None if none ever did."""
        want = row_key(row)
        best_before = best_after = None
        for seq, r in self.row_history.get((table, uuid), ()):
            if r is not None and row_key(project(r, columns)) == want:
                if seq <= upto:
                    best_before = seq
                elif best_after is None:
                    best_after = seq
        return best_before if best_before is not None else best_after


def project(row: Row, columns: list[str] | None) -> Row:
    if columns is None:
        return row
    return {c: v for c, v in row.items() if c in columns}
