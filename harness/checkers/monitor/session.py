"""The client's side of a monitor check: one client's replica, replayed event by event
against the write history; every property's check lives here, at the event that can
break it (the definitions are in ``harness.checkers.monitor``).  One class, since the
per-event rules refer to one another: a suspected duplicate, for one, is judged at the
end of the session against the out-of-order updates seen meanwhile.
"""

from __future__ import annotations

from typing import Any

from harness.checkers.monitor.report import Report, Violation
from harness.checkers.monitor.values import ZERO_UUID, Columns, Row, matches, row_key, show
from harness.checkers.monitor.writes import PRE_INITIAL, State, WriteHistory


class Unusable(Exception):
    """The input cannot be checked (reported as a problem, never as a pass)."""


class Session:
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
        self.suspect: dict[tuple[str, str], tuple[str, int, str, int | None]] = {}
        self.explained: set[tuple[str, str]] = set()
        self.connected = False
        self.started = False
        self.last_txn_id: str | None = None
        self.event = 0
        self.row: tuple[str, str] | None = None  # the row _apply_row is working on
        self.hi: int | None = None  # the clock the update being applied brings

    def flag(self, prop: str, message: str, row: tuple[str, str] | None = None,
             clock: int | None = None) -> None:
        """Record a violation at the current event, about ``row`` (default: the row
        being applied, if any) at ``clock`` (default: the clock of the update being
        applied), so a report can point at the row and the write as well as the event."""
        self.report.violations.append(Violation(
            prop, self.name, self.event, message, row or self.row,
            clock if clock is not None else self.hi))

    # clock handling
    def _clock_of(self, updates: dict[str, Any]) -> int | None:
        m = self._raw_clock(updates)
        if m is not None and m > self.h.last:
            raise Unusable(f"client {self.name}: event {self.event} shows clock {m}, but "
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
                self.row, self.hi = (table, uuid), hi
                try:
                    self._apply_row(table, uuid, ch, mine, cols, lo, hi, mode)
                finally:
                    self.row = self.hi = None

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
                    self.suspect.setdefault(rid, ("unique", self.event, hi,
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
                    self.suspect.setdefault(rid, ("unique", self.event, hi,
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
            message = f"{table} {uuid}: row {show(new)} was never written (the server has " \
                      "no such row)"
            if "modify" in ch and rid in self.tainted:
                return  # the copy is already known to be off; a diff on it proves nothing
            if "modify" in ch and mode != "txn":
                # A diff that takes the kept copy to a row nobody wrote.
                self.flag("resumable" if mode == "resume" else "condition",
                          f"{table} {uuid}: the diff makes {show(new)}, a row the server "
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
                    self.suspect.setdefault(rid, ("reliable", self.event, hi, message))
                    self.tainted.add(rid)
            else:
                self.flag("filtered", message)
            return
        if not self._row_ok_for_cond(table, new, uuid):
            self.flag("filtered", f"{table} {uuid}: row {show(new)} does not match the "
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
                            f"{t} {u} is {show(have)}, server had {show(want)}", (t, u), m)

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
                                      "never arrived)", rid, at)
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
                                   f"{t} {u} is {show(have)}, should be {show(want)}", (t, u),
                      self.seq)
            self.tainted.add((t, u))

    def on_disconnect(self) -> None:
        self._close_epoch()
        self.connected = False

    def _close_epoch(self) -> None:
        for rid, (prop, event, at, message) in sorted(self.suspect.items()):
            if rid not in self.explained:
                self.report.violations.append(
                    Violation(prop, self.name, event, message, rid, at))
        self.suspect = {}
        self.explained = set()
        for rid, (at, sticky) in sorted(self.missing.items()):
            what = ("got a modify or delete for a row it never had" if sticky
                    else "was wrong and never fixed")
            self.flag("reliable", f"{rid[0]} {rid[1]}: {what} (since clock {at}): a change "
                                  "never arrived", rid, at)
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
                f"final replica: {t} {u} is {show(have)}, server has {show(want)}", (t, u),
                last))
            break
