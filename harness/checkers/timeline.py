"""The timeline, a checker as in Jepsen: an SVG of the history that always passes.

One row per worker, each op a bar from call to return coloured by outcome (ok, fail,
info = no reply: drawn to the end of its timeout); one row per other process that
records events rather than ops (a monitoring client's replies and updates, the lies a
lying proxy told), each event a tick; faults as shaded bands across all rows.  Events that an earlier checker's
failures point at are drawn in red, so the picture shows where a run went wrong.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from harness.checkers.base import VALID, CheckContext, CheckerResult
from harness.checkers.spans import fault_bands, op_spans
from harness.history import Op

COLORS = {"ok": (46, 139, 87), "fail": (70, 110, 200), "info": (230, 140, 20)}
CSS_COLORS = {k: "#%02x%02x%02x" % v for k, v in COLORS.items()}
FAULT_CSS = "#f7b5b5"
FAILED_CSS = "#c0392b"
SVG = "timeline.svg"
SETUP_PROCESS = 1_000_000  # ops from this process number up are set-up, not load
NOT_CLIENTS = ("nemesis", "target")  # string processes that are not clients


@dataclass
class Timeline:
    workers: int = 1  # rows for integer processes: process p is drawn in row p % workers
    name: str = "timeline"

    def check(self, history: list[Op], context: CheckContext) -> CheckerResult:
        flagged = {i for r in context.earlier.values() for f in r.failures
                   for i in f.events}
        svg = timeline_svg(history, self.workers, flagged)
        out = CheckerResult(VALID, "", details={"picture": True})
        if context.out is not None:
            (context.out / SVG).write_text(svg, encoding="utf-8")
            out.artifacts["timeline"] = SVG
        return out


def event_rows(ops: list[Op]) -> list[str]:
    """Clients that record events (string processes other than the nemesis), in order
    of first appearance."""
    seen: dict[str, None] = {}
    for op in ops:
        if isinstance(op.process, str) and op.process not in NOT_CLIENTS:
            seen.setdefault(op.process, None)
    return list(seen)


def timeline_svg(ops: list[Op], workers: int, flagged: set[int] | None = None,
                 width: int = 1100) -> str:
    flagged = flagged or set()
    spans = op_spans(ops)
    bands = fault_bands(ops)
    row_h, left, top = 14, 70, 16
    workers = max(1, workers)
    setup = [s for s in spans if s["process"] >= SETUP_PROCESS]
    spans = [s for s in spans if s["process"] < SETUP_PROCESS]
    clients = event_rows(ops)
    rows = workers + len(clients)
    t_end = max([s["end"] for s in spans] + [b["end"] for b in bands] +
                [op.time / 1e9 for op in ops] + [1.0])
    height = top + row_h * rows + 20
    pw = width - left - 10

    def x(t: float) -> float:
        return left + pw * t / t_end

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="10">']
    for b in bands:
        out.append(f'<rect x="{x(b["start"]):.1f}" y="{top}" '
                   f'width="{max(1.0, x(b["end"]) - x(b["start"])):.1f}" '
                   f'height="{row_h * rows}" fill="{FAULT_CSS}" opacity="0.5">'
                   f'<title>{html.escape(b["label"])}</title></rect>')
        out.append(f'<text x="{x(b["start"]) + 2:.1f}" y="{top - 4}">'
                   f'{html.escape(b["label"][:40])}</text>')
    for w in range(workers):
        out.append(f'<text x="2" y="{top + row_h * w + 10}">worker {w}</text>')
    for s in spans:
        w = s["process"] % workers
        x0, x1 = x(s["start"]), x(s["end"])
        tip = f'p{s["process"]} {s["f"]} {s["key"]} {s["in"]!r} -> {s["type"]} {s["out"]!r}'
        if s.get("node"):
            tip += f' via {s["node"]}'
        if s.get("error"):
            tip += f' ({s["error"]})'
        out.append(f'<rect x="{x0:.1f}" y="{top + row_h * w + 2}" '
                   f'width="{max(1.0, x1 - x0):.1f}" height="{row_h - 4}" '
                   f'fill="{CSS_COLORS[s["type"]]}"><title>{html.escape(tip)}</title></rect>')
    out += _event_ticks(ops, clients, flagged, workers, row_h, top, x)
    step = max(1, int(t_end / 10))
    for t in range(0, int(t_end) + 1, step):
        out.append(f'<text x="{x(t):.1f}" y="{height - 4}">{t}s</text>')
    out.append("</svg>")
    if setup:
        out.append(f"<p>{len(setup)} setup op(s) before the load are not drawn.</p>")
    return "\n".join(out)


def _event_ticks(ops: list[Op], clients: list[str], flagged: set[int], workers: int,
                 row_h: int, top: int, x: Any) -> list[str]:
    row_of = {c: workers + i for i, c in enumerate(clients)}
    out = [f'<text x="2" y="{top + row_h * r + 10}">{html.escape(c)}</text>'
           for c, r in row_of.items()]
    late = []  # flagged ticks are drawn last, on top
    for op in ops:
        r = row_of.get(op.process) if isinstance(op.process, str) else None
        if r is None:
            continue
        bad = op.index in flagged
        tip = f"#{op.index} {op.process} {op.f}" + (" (a checker flagged this)" if bad
                                                     else "")
        tick = (f'<rect x="{x(op.time / 1e9):.1f}" y="{top + row_h * r + (0 if bad else 3)}" '
                f'width="{3 if bad else 1}" height="{row_h if bad else row_h - 6}" '
                f'fill="{FAILED_CSS if bad else "#555"}"><title>{html.escape(tip)}</title>'
                "</rect>")
        (late if bad else out).append(tick)
    return out + late
