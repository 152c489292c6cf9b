"""The monitor checker as a campaign checker: reads the monitor workload's events and
writes from the history, checks every property, and points each failure at the
history events that show it (the client's event where it was found, the one before
it, and the writes of the row involved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checkers.base import INVALID, UNKNOWN, VALID, CheckContext, CheckerResult, Failure
from harness.checkers.monitor.history import MonitorInput, read_input
from harness.checkers.monitor.replay import check_input
from harness.checkers.monitor.report import PROPERTIES, Report, Violation
from harness.history import Op

PER_PROPERTY = 3  # failures shown per violated property (the count is in the details)


@dataclass
class MonitorChecker:
    clock: tuple[str, str] = ("Cell", "value")  # (table, integer column) of the clock row
    table: str = "Item"  # the data table the writers change
    name: str = "monitor"

    def check(self, history: list[Op], context: CheckContext) -> CheckerResult:
        data = read_input(history, self.table)
        report = check_input(data, clock=self.clock, quiescent=True)
        failed = [p for p in PROPERTIES if p in report.failed()]
        head = f"{len(data.writes['txns'])} txns, {len(data.streams)} clients; "
        if failed:
            validity, verdict = INVALID, "failed"
            summary = head + f"violated: {', '.join(sorted(failed))}"
        elif report.problems:
            validity, verdict = UNKNOWN, "error"
            summary = head + "; ".join(report.problems)[:300]
        else:
            validity, verdict, summary = VALID, "ok", head + "every property holds"
        return CheckerResult(
            validity, summary, verdict=verdict,
            details={"properties": report.verdicts(), "problems": report.problems,
                     "notes": data.notes, "indeterminate": data.indeterminate},
            failures=failures(report, data, history, self.clock))


def failures(report: Report, data: MonitorInput, history: list[Op],
             clock: tuple[str, str] = ("Cell", "value")) -> list[Failure]:
    streams = {s["client"]: s["events"] for s in data.streams}
    out: list[Failure] = []
    for prop in PROPERTIES:
        for v in [v for v in report.violations if v.prop == prop][:PER_PROPERTY]:
            events = streams.get(v.client, [])
            out.append(Failure(prop, v.message, v.client,
                               f"{v.row[0]} {v.row[1]}" if v.row else None,
                               evidence(v, events, data, history),
                               clock_range(v, events, clock)))
    return out


def clock_range(v: Violation, events: list[dict[str, Any]],
                clock: tuple[str, str]) -> str | None:
    """The transactions a failure is about, in words: from the clock the client had
    reached before the event where it was found to the clock that event brought (and
    the transaction the replica was held to, when the checker knows it)."""
    if v.index is not None:  # a writer's reply
        return None
    at = v.event if 0 <= v.event < len(events) else len(events) - 1
    before = after = None
    for i, e in enumerate(events[:at + 1]):
        c = _clock_of(e, clock)
        if c is not None:
            if i < at:
                before = c
            else:
                after = c
    lo, hi = before, after if after is not None else before
    if hi is None:
        text = None
    elif v.event < 0:  # found when the stream ended
        text = f"at the end of its stream (clock {hi})"
    elif lo is None or lo == hi:
        text = f"clock {hi}"
    else:
        text = f"clock {lo} to {hi}"
    if v.clock is not None and v.clock != hi:
        text = (text + "; " if text else "") + f"held to transaction {v.clock}"
    return text


def _clock_of(event: dict[str, Any], clock: tuple[str, str]) -> int | None:
    """The clock value an event's updates bring, if they touch the clock row."""
    table, column = clock
    for change in ((event.get("updates") or {}).get(table) or {}).values():
        if not isinstance(change, dict):
            continue
        for kind in ("initial", "insert", "modify", "new"):
            row = change.get(kind)
            if isinstance(row, dict) and isinstance(row.get(column), int):
                return int(row[column])
    return None


def evidence(v: Violation, events: list[dict[str, Any]], data: MonitorInput,
             history: list[Op]) -> tuple[int, ...]:
    """History indices that show a violation: the client's event where it was found
    (its last event for findings at the end of a stream) and the one before it; for a
    row, also the client's first and last events that touched the row, and the row's
    last write at or before the clock the replica was held to (the change that never
    arrived, or the value it should have had), else before the client first heard
    of the row."""
    if v.index is not None:  # a writer's reply: the history entry itself
        return (v.index,)
    at = v.event if 0 <= v.event < len(events) else len(events) - 1
    found = [events[i]["index"] for i in (at - 1, at) if 0 <= i < len(events)]
    if v.row is None or not found:
        return tuple(found)
    table, uuid = v.row
    touched = [e["index"] for e in events[:at + 1]
               if uuid in ((e.get("updates") or {}).get(table) or {})]
    writes = [(t["seq"], data.txn_index[t["seq"]]) for t in data.writes["txns"]
              if uuid in (t.get("changes") or {}).get(table, {})
              and t["seq"] in data.txn_index]
    if v.clock is not None:
        writes = [(seq, i) for seq, i in writes if seq <= v.clock]
    else:
        before = touched[0] if touched else found[-1]
        writes = [(seq, i) for seq, i in writes if i < before]
    picked = found + touched[:1] + touched[-1:] + [i for _, i in writes[-1:]]
    return tuple(sorted(set(picked)))
