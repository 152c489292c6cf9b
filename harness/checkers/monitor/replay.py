"""``check(writes, streams)``: replay every client's stream against the write history."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.checkers.monitor.history import MonitorInput
from harness.checkers.monitor.report import Report
from harness.checkers.monitor.session import Session, Unusable
from harness.checkers.monitor.values import Columns
from harness.checkers.monitor.writes import WriteHistory


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
            _replay(Session(str(stream.get("client", "?")), hist, cols, report),
                    stream.get("events") or [], quiescent)
        except Unusable as e:
            report.problems.append(str(e))
    return report


def check_input(data: MonitorInput, *, clock: tuple[str, str] = ("Cell", "value"),
                quiescent: bool = True) -> Report:
    """``check`` on a run read from a history, with the writers' own violations (writes
    acknowledged but not committed, refused but committed) added."""
    report = check(data.writes, data.streams, clock=clock, schema=data.schema,
                   quiescent=quiescent)
    report.violations += data.violations
    return report


def _replay(s: Session, events: list[dict[str, Any]], quiescent: bool) -> None:
    for i, ev in enumerate(events):
        s.event = i
        kind = ev.get("type")
        if kind == "monitor":
            s.on_monitor(ev)
        elif not s.started:
            raise Unusable(f"client {s.name}: event {i} ({kind}) before any monitor reply")
        elif kind == "update":
            s.on_update(ev)
        elif kind == "cond_change":
            s.on_cond_change(ev)
        elif kind == "cond_change_reply":
            s.on_cond_change_reply(ev)
        elif kind == "disconnect":
            s.on_disconnect()
        else:
            raise Unusable(f"client {s.name}: event {i} has unknown type {kind!r}")
    s.finish(quiescent)
