"""Monitor checker: are the update streams that clients received correct? (pure, no I/O)

(Over the ~600-line guide: the precise property definitions below are part of the
module's contract, and the small wire helpers it needs (sets, maps, update2 diffs,
monitor conditions) stay with it so the checker reads as one piece.)

The OVSDB form of etcd's watch guarantees.  Input is what the harness recorded: the
write history (every committed transaction, in commit order, with its effects) and,
for every monitoring client, the stream of events it saw.  Output is one verdict per
property, each with its first counterexample.

The clock
---------
Updates carry no portable transaction number (standalone ovsdb-server sends the zero
UUID as last-txn-id), so the workload makes one: every transaction bumps an integer
column of one "clock" row (``clock=(table, column)``), and every monitor watches that
row.  Transaction number n is the one that set the clock to n; the clock value a
client's replica shows is the transaction its replica claims to be at.  Rows of the
clock table are used only as the clock and are not checked otherwise.

Record formats
--------------
Write history (``writes``)::

    {"initial": {table: {uuid: row}},              # state before txn 1 (clock = 0)
     "txns": [{"seq": 1, "changes": {table: {uuid: row | null}}}, ...]}

A snapshot without the clock row is taken to predate the initial state (a lagging
cluster member that has not applied the set-up): it must be empty, and the set-up then
arrives as an update that inserts the clock row at 0.  ``txns`` are all committed
transactions, seq 1..N in order; a change gives the full
row after the transaction (null = deleted).  Rows are column -> value in RFC 7047 wire
form.  Values should be unique per write (the workloads use tokens), so a received
row value names the transaction that wrote it.

A client's stream: ``{"client": name, "events": [event, ...]}`` in arrival order::

    {"type": "monitor", "method": "monitor_cond" | "monitor_cond_since",
     "cond": {table: [clause, ...]},   # every monitored table, [] = all rows
     "columns": {table: [col, ...]},   # optional: monitored columns (default: all)
     "since": txn-id | null,           # monitor_cond_since: the id the client sent
     "found": bool | null, "last_txn_id": id | null,
     "updates": table-updates2}        # the reply's initial/resumed contents
    {"type": "update", "updates": table-updates2, "last_txn_id": id | null}
    {"type": "cond_change", "cond": {table: [clause, ...]}}   # request sent
    {"type": "cond_change_reply", "error": null | str}        # its reply arrived
    {"type": "disconnect"}                                    # connection lost

A ``monitor`` event after a ``disconnect`` is a reconnect; its ``since`` is the last
``last_txn_id`` the client saw, and with ``found`` true the client keeps its replica.

Properties (n = a transaction number, m = the clock value an update brings)
-----------------------------------------------------------------------------
ordered     Within a session, updates arrive in commit order: an update's clock value
            is never below one already reached, unless it repeats an update already
            received (that is a duplicate, see unique).
unique      No transaction is delivered twice in a session: no update repeats a clock
            value already received, no insert of a row the replica has, no delete of a
            row this session already deleted.
atomic      One transaction's changes arrive in one update: every row change in an
            update covering (p, m] was made by a transaction in (p, m] (not an earlier
            one arriving late, not a later one arriving early).
reliable    No gap: after an update at clock m is applied, every monitored row equals
            the server's state at m filtered by the condition (rows the client is owed
            are there, with their latest values; rows gone are gone).  A row found
            wrong that a later update of the same session fixes with its late value is
            an atomic violation instead; one never fixed, or fixed only by a newer
            write, is a gap.  So is a modify whose diff, applied to the client's copy,
            makes a row the server never had (the diff skipped a change).
filtered    Nothing outside the condition: every row the client is given in full
            (initial, insert) is a row the server really had with that value, and no
            row the client holds after an update fails the condition in force (either
            condition while a change is in flight).
resumable   A reconnect's monitor_cond_since reply with found=true brings the kept
            replica exactly to the state at its clock: no change at or before the
            last transaction seen is applied again, none after it is missing, and
            found=true is only for the id the client sent.  found=false means a full
            resync: the replica is replaced by the reply, which must equal the
            filtered state at its clock.
condition   After monitor_cond_change is answered, the replica equals the state at
            its clock filtered by the new condition.
convergent  When traffic has stopped, each connected client's replica is at the last
            transaction and equals the final state filtered by its condition.

Counterexamples do not cascade: an update flagged as duplicate or out of order is not
applied, a row change flagged as unfiltered is not applied, and rows touched by an
out-of-order update are left out of later comparisons until a full row or a delete
makes them exact again.  A row inserted again or deleted again is judged when the
session ends: if an out-of-order update explains it (a row that left and re-entered
the condition, swapped) it is that ordering fault, not a duplicate; if the row had
left the view inside the range the update claims to cover, the update that removed it
never came (a gap).  A diff that makes a row nobody wrote is judged the same way: a
gap, unless an out-of-order update explains it.  While a condition change is in flight rows may match either
condition and the replica is compared only when the change is answered, so a gap
inside that window shows up as a condition fault.

Input that cannot be checked (a write history with holes, a clock beyond its end, an
event before any monitor reply) is listed in ``Report.problems`` and every verdict is
then "not ok": a checker that cannot see must not say yes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

PROPERTIES = ("ordered", "unique", "atomic", "reliable", "filtered", "resumable",
              "condition", "convergent")

Row = dict[str, Any]
State = dict[str, dict[str, Row]]  # table -> uuid -> row
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
PRE_INITIAL = -1  # clock of a snapshot taken before the initial state (no clock row)


@dataclass
class Violation:
    prop: str
    client: str
    event: int  # index of the event in the client's stream (-1: end of stream)
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"client": self.client, "event": self.event, "message": self.message}


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unusable input

    @property
    def valid(self) -> bool:
        return not self.violations and not self.problems

    def failed(self) -> set[str]:
        return {v.prop for v in self.violations}

    def verdicts(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for prop in PROPERTIES:
            vs = [v for v in self.violations if v.prop == prop]
            out[prop] = {"ok": not vs and not self.problems, "violations": len(vs),
                         "first": vs[0].to_dict() if vs else None}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "problems": self.problems,
                "properties": self.verdicts()}


# -- values, rows and conditions -------------------------------------------------------

def _key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _atoms(value: Any) -> list[Any]:
    """A wire set (or a bare atom standing for a one-element set) as a list of atoms."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return list(value[1])
    return [value]


def _pairs(value: Any) -> list[list[Any]]:
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return [list(p) for p in value[1]]
    return []


def _as_set(atoms: list[Any]) -> Any:
    return atoms[0] if len(atoms) == 1 else ["set", atoms]


class Columns:
    """What the checker needs from a schema: column kinds (scalar/set/map) and defaults.

    Without a schema every column is a scalar and nothing is defaulted, which is right
    for the workloads' integer and string columns.
    """

    def __init__(self, schema: dict[str, Any] | None = None) -> None:
        self.kind: dict[tuple[str, str], str] = {}
        self.default: dict[tuple[str, str], Any] = {}
        for tname, table in (schema or {}).get("tables", {}).items():
            for cname, col in table.get("columns", {}).items():
                t = col["type"]
                if isinstance(t, dict):
                    base = t.get("key")
                    lo, hi = t.get("min", 1), t.get("max", 1)
                    if "value" in t:
                        kind, default = "map", ["map", []]
                    elif hi == "unlimited" or hi > 1:
                        kind, default = "set", ["set", []]
                    elif lo == 0:
                        kind, default = "optional", ["set", []]
                    else:
                        kind, default = "scalar", _scalar_default(base)
                else:
                    kind, default = "scalar", _scalar_default(t)
                self.kind[tname, cname] = kind
                self.default[tname, cname] = default

    def normalize(self, table: str, row: Row) -> Row:
        """Drop columns at their default: initial/insert omit them on the wire."""
        return {c: v for c, v in row.items()
                if (table, c) not in self.default or
                _key(_canon(v)) != _key(_canon(self.default[table, c]))}

    def apply_diff(self, table: str, row: Row, diff: Row) -> Row:
        """Apply an update2 ``modify`` diff to a full row."""
        new = dict(row)
        for col, d in diff.items():
            kind = self.kind.get((table, col), "scalar")
            if kind == "set":
                cur = {_key(a): a for a in _atoms(row.get(col, ["set", []]))}
                for a in _atoms(d):  # the diff is the symmetric difference
                    k = _key(a)
                    if k in cur:
                        del cur[k]
                    else:
                        cur[k] = a
                new[col] = _as_set(list(cur.values()))
            elif kind == "map":
                cur_map = {_key(k): (k, v) for k, v in _pairs(row.get(col, ["map", []]))}
                for k, v in _pairs(d):
                    kk = _key(k)
                    if kk in cur_map and _key(cur_map[kk][1]) == _key(v):
                        del cur_map[kk]  # same key and value: removed
                    else:
                        cur_map[kk] = (k, v)  # new key or changed value
                new[col] = ["map", [list(p) for p in cur_map.values()]]
            else:
                new[col] = d
        return self.normalize(table, new)


def _scalar_default(base: Any) -> Any:
    name = base if isinstance(base, str) else (base or {}).get("type", "string")
    return {"integer": 0, "real": 0.0, "boolean": False, "string": "",
            "uuid": ["uuid", ZERO_UUID]}.get(name, "")


def _canon(value: Any) -> Any:
    """Order-free form of a wire value, for comparing sets and maps."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        atoms = sorted(value[1], key=_key)
        return atoms[0] if len(atoms) == 1 else ["set", atoms]
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return ["map", sorted(value[1], key=_key)]
    return value


def row_key(row: Row | None) -> bytes | None:
    if row is None:
        return None
    return _key({c: _canon(v) for c, v in row.items()})


def _cmp_atom(a: Any, fn: str, b: Any) -> bool:
    if fn == "==":
        return _key(a) == _key(b)
    if fn == "!=":
        return _key(a) != _key(b)
    try:
        if fn == "<":
            return a < b
        if fn == "<=":
            return a <= b
        if fn == ">":
            return a > b
        if fn == ">=":
            return a >= b
    except TypeError:
        return False
    raise ValueError(f"unknown condition function {fn!r}")


def clause_matches(row: Row, clause: Any, uuid: str | None = None) -> bool:
    if clause is True or clause is False:
        return clause
    col, fn, value = clause
    have = ["uuid", uuid] if col == "_uuid" else row.get(col)
    if fn in ("includes", "excludes"):
        mine = {_key(a) for a in _atoms(have)} if have is not None else set()
        want = {_key(a) for a in _atoms(value)}
        inc = want <= mine
        return inc if fn == "includes" else not inc
    if fn in ("==", "!=") and (isinstance(have, list) and have and have[0] in ("set", "map")):
        same = _key(_canon(have)) == _key(_canon(value))
        return same if fn == "==" else not same
    atoms = _atoms(have) if have is not None else []
    if len(atoms) != 1:
        # An ordering function on an empty optional column is false (OVS does this).
        return fn == "!=" if fn in ("==", "!=") else False
    return _cmp_atom(atoms[0], fn, value)


def matches(row: Row, clauses: list[Any] | None, uuid: str | None = None) -> bool:
    """Monitor conditions: clauses are ORed; an empty or missing list means all rows."""
    if not clauses:
        return True
    return any(clause_matches(row, c, uuid) for c in clauses)


# -- the server's side: states after each transaction ----------------------------------

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


# -- the client's side: replay one stream ----------------------------------------------

class _Session:
    """One client's replica and what it has received, replayed event by event."""

    def __init__(self, name: str, hist: WriteHistory, cols: Columns, report: Report):
        self.name = name
        self.h = hist
        self.cols = cols
        self.report = report
        self.replica: State = {}
        self.cond: dict[str, list[Any]] = {}
        self.columns: dict[str, list[str] | None] = {}
        self.old_cond: dict[str, list[Any]] | None = None  # set while a change is in flight
        self.seq = 0
        self.ends: set[int] = set()        # clock values updates of this session brought
        self.deleted: set[tuple[str, str]] = set()
        self.tainted: set[tuple[str, str]] = set()
        # row -> (clock at which it was found wrong, sticky).  A sticky entry (a modify or
        # delete of a row the client never got) stays wrong even if the state later looks
        # right; only an out-of-order update that explains it removes it.
        self.missing: dict[tuple[str, str], tuple[int, bool]] = {}
        # Faults judged when the session ends, unless an out-of-order update touching
        # the row (``explained``) turns out to be their cause: row -> (prop, event, text).
        self.suspect: dict[tuple[str, str], tuple[str, int, str]] = {}
        self.explained: set[tuple[str, str]] = set()
        self.connected = False
        self.started = False
        self.last_txn_id: str | None = None
        self.event = 0

    def flag(self, prop: str, message: str) -> None:
        self.report.violations.append(Violation(prop, self.name, self.event, message))

    # clock handling
    def _clock_of(self, updates: dict[str, Any]) -> int | None:
        m = self._raw_clock(updates)
        if m is not None and m > self.h.last:
            raise _Unusable(f"client {self.name}: event {self.event} shows clock {m}, but "
                            f"the write history ends at {self.h.last} (incomplete history)")
        return m

    def _raw_clock(self, updates: dict[str, Any]) -> int | None:
        table, column = self.h.clock
        for _, ch in (updates.get(table) or {}).items():
            for op in ("initial", "insert"):
                if op in ch:
                    return int(ch[op].get(column, 0))
            if "modify" in ch and column in ch["modify"]:
                return int(ch["modify"][column])
        return None

    def _data_tables(self) -> list[str]:
        return [t for t in self.cond if t != self.h.clock[0]]

    def _row_ok_for_cond(self, table: str, row: Row, uuid: str) -> bool:
        if matches(row, self.cond.get(table), uuid):
            return True
        return self.old_cond is not None and matches(row, self.old_cond.get(table), uuid)

    def _expected(self, seq: int, cond: dict[str, list[Any]] | None = None) -> State:
        cond = self.cond if cond is None else cond
        return {t: self.h.view(seq, t, cond.get(t), self.columns.get(t))
                for t in self._data_tables()}

    def _mismatches(self, seq: int, cond: dict[str, list[Any]] | None = None,
                    ) -> list[tuple[str, str, Row | None, Row | None]]:
        out = []
        for t, want in self._expected(seq, cond).items():
            have = self.replica.get(t, {})
            for u in sorted(set(want) | set(have)):
                if (t, u) in self.tainted:
                    continue
                if row_key(want.get(u)) != row_key(have.get(u)):
                    out.append((t, u, have.get(u), want.get(u)))
        return out

    # applying table-updates2
    def _apply(self, updates: dict[str, Any], lo: int, hi: int, mode: str) -> None:
        """Apply the data-table part of an update covering clock range (lo, hi].

        ``mode``: "txn" (an update in a live session), "snapshot" (monitor reply that
        replaces the replica), "resume" (found=true reply on top of the kept replica),
        "cond" (no clock change: rows entering or leaving by a condition change).
        """
        clock_table = self.h.clock[0]
        for table, rows in updates.items():
            if table == clock_table:
                continue
            if table not in self.cond:
                self.flag("filtered", f"update for table {table} that is not monitored")
                continue
            mine = self.replica.setdefault(table, {})
            cols = self.columns.get(table)
            for uuid, ch in rows.items():
                self._apply_row(table, uuid, ch, mine, cols, lo, hi, mode)

    def _apply_row(self, table: str, uuid: str, ch: dict[str, Any], mine: dict[str, Row],
                   cols: list[str] | None, lo: int, hi: int, mode: str) -> None:
        rid = (table, uuid)
        dup_prop = "resumable" if mode == "resume" else "unique"
        if "delete" in ch:
            if uuid not in mine:
                if rid in self.tainted:
                    self.tainted.discard(rid)  # absent is exact again
                elif rid in self.deleted and mode == "resume":
                    self.flag(dup_prop, f"{table} {uuid}: deleted again")
                elif (rid in self.deleted and rid not in self.missing
                      and not self._in_view_between(table, uuid, lo, hi)):
                    self.suspect.setdefault(rid, ("unique", self.event,
                                                  f"{table} {uuid}: deleted again"))
                else:
                    self.missing[rid] = (self.missing.get(rid, (hi, True))[0], True)
                return
            want = self.h.view(hi, table, self.cond.get(table), cols).get(uuid)
            live = mode == "txn" and self.old_cond is None
            if want is not None and mode != "cond" and self.old_cond is None:
                left = self._left_after(table, uuid, hi) if live else None
                if left is not None:
                    self.flag("atomic", f"{table} {uuid}: delete of txn {left} arrived with "
                                        f"the update for clock {hi}")
                else:
                    self.flag("resumable" if mode == "resume" else "reliable",
                              f"{table} {uuid}: deleted at clock {hi} although the row "
                              "exists there and matches the condition")
            elif (live and lo >= 0 and rid not in self.tainted
                  and not self._in_view(table, uuid, lo)):
                # Already out of view before this update's range: its delete is late.
                left = self._left_at(table, uuid, lo)
                self.flag("atomic", f"{table} {uuid}: delete of txn {left} arrived late, in "
                                    f"the update covering txns {lo + 1}..{hi}")
                self.missing.pop(rid, None)
            del mine[uuid]
            self.deleted.add(rid)
            self.tainted.discard(rid)  # absent is exact again
            return
        if "initial" in ch or "insert" in ch:
            body = ch.get("initial", ch.get("insert")) or {}
            if uuid in mine and mode == "resume" and rid not in self.tainted:
                self.flag(dup_prop, f"{table} {uuid}: inserted again "
                                    f"(the replica already has it)")
                return
            if uuid in mine and mode != "snapshot" and rid not in self.tainted:
                if rid in self.missing or self._left_between(table, uuid, lo, hi):
                    # The row left the view inside the range this update claims to
                    # cover, so a correct update would say modify: the update that
                    # removed it never came.
                    self.missing[rid] = (self.missing.get(rid, (lo, True))[0], True)
                else:
                    # Judged when the session ends: an out-of-order update (a row
                    # leaving and re-entering the condition, swapped) explains it, and
                    # then it is an ordering fault, not a duplicate.
                    self.suspect.setdefault(rid, ("unique", self.event,
                                                  f"{table} {uuid}: inserted again (the "
                                                  "replica already has it)"))
            new = self.cols.normalize(table, body)
        elif "modify" in ch:
            if uuid not in mine:
                if rid not in self.tainted:
                    self.missing[rid] = (hi, True)
                return
            new = self.cols.apply_diff(table, mine[uuid], ch["modify"] or {})
        else:
            self.flag("filtered", f"{table} {uuid}: row update with no known operation")
            return
        src = self.h.source(table, uuid, new, cols, hi)
        if src is None:
            message = f"{table} {uuid}: row {_show(new)} was never written (the server has " \
                      "no such row)"
            if "modify" in ch and rid in self.tainted:
                return  # the copy is already known to be off; a diff on it proves nothing
            if "modify" in ch and mode != "txn":
                # A diff that takes the kept copy to a row nobody wrote.
                self.flag("resumable" if mode == "resume" else "condition",
                          f"{table} {uuid}: the diff makes {_show(new)}, a row the server "
                          "never had")
            elif "modify" in ch:
                conds = [self.cond] + ([self.old_cond] if self.old_cond is not None else [])
                befores = {row_key(self.h.view(lo, table, c.get(table), cols).get(uuid))
                           for c in conds} if lo >= 0 else {None}
                if row_key(mine[uuid]) not in befores:
                    # The client's copy was already stale (an earlier change never came),
                    # so the diff lands on the wrong base: a gap, not a stray row.
                    self.missing[rid] = (self.missing.get(rid, (lo, True))[0], True)
                else:
                    # The diff does not bridge the client's copy to any state the row
                    # had, so a change is missing, unless an out-of-order update turns
                    # up to explain it: wait and see.
                    self.suspect.setdefault(rid, ("reliable", self.event, message))
                    self.tainted.add(rid)
            else:
                self.flag("filtered", message)
            return
        if not self._row_ok_for_cond(table, new, uuid):
            self.flag("filtered", f"{table} {uuid}: row {_show(new)} does not match the "
                                  f"condition {self.cond.get(table)}")
            return
        if mode == "txn":
            if src > hi:
                self.flag("atomic", f"{table} {uuid}: change of txn {src} arrived with the "
                                    f"update for clock {hi}")
            elif src <= lo and self.old_cond is None:
                self.flag("atomic", f"{table} {uuid}: change of txn {src} arrived late, in "
                                    f"the update covering txns {lo + 1}..{hi}")
                self.missing.pop(rid, None)
        elif mode == "resume" and rid not in self.tainted:
            old = mine.get(uuid)
            if old is not None and row_key(old) == row_key(new):
                self.flag("resumable", f"{table} {uuid}: txn {src}'s change, which the client "
                                       f"had (it was at txn {lo}), sent again on resume")
        mine[uuid] = new
        self.deleted.discard(rid)
        if "modify" not in ch:
            self.tainted.discard(rid)  # a full row: the replica has it exactly again

    def _in_view(self, table: str, uuid: str, seq: int) -> bool:
        r = self.h.states[seq].get(table, {}).get(uuid)
        return r is not None and matches(r, self.cond.get(table), uuid)

    def _left_at(self, table: str, uuid: str, hi: int) -> int | None:
        """The last transaction at or before ``hi`` that took the row out of view."""
        for seq in range(hi, 0, -1):
            if not self._in_view(table, uuid, seq) and self._in_view(table, uuid, seq - 1):
                return seq
        return None

    def _left_after(self, table: str, uuid: str, hi: int) -> int | None:
        """The first transaction after ``hi`` that takes the row out of view."""
        for seq in range(hi + 1, self.h.last + 1):
            if not self._in_view(table, uuid, seq):
                return seq
        return None

    def _left_between(self, table: str, uuid: str, lo: int, hi: int) -> bool:
        return any(not self._in_view(table, uuid, s) for s in range(lo + 1, hi))

    def _in_view_between(self, table: str, uuid: str, lo: int, hi: int) -> bool:
        return any(self._in_view(table, uuid, s) for s in range(lo + 1, hi))

    # events
    def on_monitor(self, ev: dict[str, Any]) -> None:
        reconnect = self.started
        self.started = True
        self.connected = True
        self.cond = {t: list(c or []) for t, c in (ev.get("cond") or {}).items()}
        self.columns = {t: c for t, c in (ev.get("columns") or {}).items()}
        self.old_cond = None
        self.ends = set()
        updates = ev.get("updates") or {}
        found = ev.get("found") if ev.get("method") == "monitor_cond_since" else False
        m = self._clock_of(updates)
        if found:
            since = ev.get("since")
            if not reconnect or not since or since == ZERO_UUID or since != self.last_txn_id:
                self.flag("resumable", f"found=true for last-txn-id {since!r}, which is not "
                                       f"the last id this client saw ({self.last_txn_id!r})")
            base = self.seq
            if m is not None and m < base:
                self.flag("resumable", f"resumed at clock {m}, behind the {base} seen "
                                       "before the reconnect")
                m = base
            m = base if m is None else m
            self._apply(updates, base, m, "resume")
            prop = "resumable"
        else:
            if m is None:
                # No clock row: the member answering has not even applied the set-up
                # yet (a lagging cluster follower), so it must show the empty database.
                m = PRE_INITIAL
            self.replica = {}
            self.tainted = set()
            self.deleted = set()
            self._apply(updates, 0, m, "snapshot")
            prop = "resumable" if reconnect else "reliable"
        self.seq = m
        self.ends.add(m)
        self.missing = {}
        if ev.get("last_txn_id"):
            self.last_txn_id = ev["last_txn_id"]
        for t, u, have, want in self._mismatches(m):
            self.flag(prop, f"after {'resume' if found else 'the monitor reply'} at clock {m}: "
                            f"{t} {u} is {_show(have)}, server had {_show(want)}")

    def on_update(self, ev: dict[str, Any]) -> None:
        updates = ev.get("updates") or {}
        m = self._clock_of(updates)
        if m is not None and m in self.ends:
            self.flag("unique", f"update for clock {m} delivered again")
            return
        if m is not None and m < self.seq:
            self.flag("ordered", f"update for clock {m} arrived after clock {self.seq}")
            for table, rows in updates.items():
                for uuid in rows:
                    self.tainted.add((table, uuid))
                    self.explained.add((table, uuid))
                    self.missing.pop((table, uuid), None)
            return
        if ev.get("last_txn_id"):
            self.last_txn_id = ev["last_txn_id"]
        lo = self.seq
        if m is None:
            # No transaction: rows entering/leaving by a condition change, or a stray.
            self._apply(updates, lo, lo, "cond" if self.old_cond is not None else "txn")
            m = lo
        else:
            self.ends.add(m)
            self._apply(updates, lo, m, "txn")
            self.seq = m
        if self.old_cond is not None:
            return  # checked when the condition change is answered
        wrong = {(t, u) for t, u, _, _ in self._mismatches(m)}
        for rid, (at, sticky) in list(self.missing.items()):
            if rid not in wrong and not sticky:
                self.flag("reliable", f"{rid[0]} {rid[1]}: was wrong from clock {at} "
                                      f"until a newer write at {m} replaced it (a change "
                                      "never arrived)")
                del self.missing[rid]
        for rid in wrong:
            self.missing.setdefault(rid, (m, False))

    def on_cond_change(self, ev: dict[str, Any]) -> None:
        self.old_cond = self.cond
        new = {t: list(c or []) for t, c in (ev.get("cond") or {}).items()}
        self.cond = {t: new.get(t, self.cond[t]) for t in self.cond}

    def on_cond_change_reply(self, ev: dict[str, Any]) -> None:
        if ev.get("error"):
            self.cond = self.old_cond or self.cond
        self.old_cond = None
        for t, u, have, want in self._mismatches(self.seq):
            if (t, u) in self.missing:
                continue
            self.flag("condition", f"after the condition change at clock {self.seq}: "
                                   f"{t} {u} is {_show(have)}, should be {_show(want)}")
            self.tainted.add((t, u))

    def on_disconnect(self) -> None:
        self._close_epoch()
        self.connected = False

    def _close_epoch(self) -> None:
        for rid, (prop, event, message) in sorted(self.suspect.items()):
            if rid not in self.explained:
                self.report.violations.append(Violation(prop, self.name, event, message))
        self.suspect = {}
        self.explained = set()
        for rid, (at, sticky) in sorted(self.missing.items()):
            what = ("got a modify or delete for a row it never had" if sticky
                    else "was wrong and never fixed")
            self.flag("reliable", f"{rid[0]} {rid[1]}: {what} (since clock {at}): a change "
                                  "never arrived")
        self.missing = {}

    def finish(self, quiescent: bool) -> None:
        self.event = -1
        if not self.connected:
            return
        self._close_epoch()
        if not quiescent:
            return
        last = self.h.last
        if self.seq != last:
            self.report.violations.append(Violation(
                "convergent", self.name, -1,
                f"stopped at clock {self.seq}, the last transaction is {last}"))
            return
        for t, u, have, want in self._mismatches(last):
            self.report.violations.append(Violation(
                "convergent", self.name, -1,
                f"final replica: {t} {u} is {_show(have)}, server has {_show(want)}"))
            break


class _Unusable(Exception):
    """The input cannot be checked (reported as a problem, never as a pass)."""


def _show(row: Row | None) -> str:
    return "absent" if row is None else orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode()


def check(writes: dict[str, Any], streams: Iterable[dict[str, Any]], *,
          clock: tuple[str, str] = ("Cell", "value"), schema: dict[str, Any] | None = None,
          quiescent: bool = True) -> Report:
    """Check every client's stream against the write history; see the module doc."""
    cols = Columns(schema)
    hist = WriteHistory(writes, cols, clock)
    report = Report(problems=list(hist.problems))
    if report.problems:
        return report
    for stream in streams:
        try:
            _replay(_Session(str(stream.get("client", "?")), hist, cols, report),
                    stream.get("events") or [], quiescent)
        except _Unusable as e:
            report.problems.append(str(e))
    return report


def _replay(s: _Session, events: list[dict[str, Any]], quiescent: bool) -> None:
    for i, ev in enumerate(events):
        s.event = i
        kind = ev.get("type")
        if kind == "monitor":
            s.on_monitor(ev)
        elif not s.started:
            raise _Unusable(f"client {s.name}: event {i} ({kind}) before any monitor reply")
        elif kind == "update":
            s.on_update(ev)
        elif kind == "cond_change":
            s.on_cond_change(ev)
        elif kind == "cond_change_reply":
            s.on_cond_change_reply(ev)
        elif kind == "disconnect":
            s.on_disconnect()
        else:
            raise _Unusable(f"client {s.name}: event {i} has unknown type {kind!r}")
    s.finish(quiescent)
