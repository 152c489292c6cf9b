"""The timeline, a checker as in Jepsen: an SVG of the history that always passes.

One row per worker, each op a bar from call to return coloured by outcome (ok, fail,
info = no reply: drawn to the end of its timeout); one row per other process that
records events rather than ops (a monitoring client's replies and updates, the lies a
lying proxy told), each event a tick; faults as shaded bands across all rows, the lies
a lying proxy told as purple lines across all rows (hover: what was told), a leader row
for cluster targets (who led, in which term, from the ``leader`` events of process
``"target"``).  Events that an earlier checker's failures point at are drawn in red, so
the picture shows where a run went wrong.  Its time axis is the latency plot's
(``WIDTH``, ``MARGIN_L``, ``MARGIN_R``, ``spans.time_end``).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from harness.checkers.base import VALID, CheckContext, CheckerResult
from harness.checkers.spans import (
    fault_bands,
    label_lines,
    lie_marks,
    op_spans,
    runs_left,
    time_end,
)
from harness.history import Op
from harness.linear.visualize import STATUS_WORDS, plain

COLORS = {"ok": (46, 139, 87), "fail": (70, 110, 200), "info": (230, 140, 20)}
CSS_COLORS = {k: "#%02x%02x%02x" % v for k, v in COLORS.items()}
FAULT_CSS = "#f7b5b5"
FAILED_CSS = "#c0392b"
LIE_CSS = "#7b2cbf"
WIDTH, MARGIN_L, MARGIN_R = 1100, 90, 20  # pixels, shared with the latency plot
SVG = "timeline.svg"
SETUP_PROCESS = 1_000_000  # ops from this process number up are set-up, not load
NOT_CLIENTS = ("nemesis", "target", "proxy")  # string processes that are not clients


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
                 width: int = WIDTH) -> str:
    flagged = flagged or set()
    spans = op_spans(ops)
    bands = fault_bands(ops)
    lies = lie_marks(ops)
    leaders = leader_spans(ops)
    row_h, left = 14, MARGIN_L
    top = 8 + 12 * min(3, len(bands) + len(lies))  # room for three lines of captions
    workers = max(1, workers)
    setup = [s for s in spans if s["process"] >= SETUP_PROCESS]
    spans = [s for s in spans if s["process"] < SETUP_PROCESS]
    clients = event_rows(ops)
    lead_rows = 1 if leaders else 0
    rows = workers + len(clients) + lead_rows
    t_end = time_end(ops)
    height = top + row_h * rows + 20
    pw = width - left - MARGIN_R

    def x(t: float) -> float:
        return left + pw * t / t_end

    # Captions on up to three lines, none overlapping (``spans.label_lines``), anchored
    # at the band's end near the right edge so that none is cut off.
    marks = sorted([(b["start"], b["end"], b["label"] if len(b["label"]) <= 40
                     else b["label"][:39] + "…", "#8b1a1a") for b in bands] +
                   [(m["time"], m["time"], m["label"], LIE_CSS) for m in lies])
    lines = label_lines([m[:3] for m in marks], t_end, pw, 6.2)

    def label(line: int, t0: float, t1: float, text: str, color: str) -> str:
        right = runs_left(t0, text, t_end, pw, 6.2)
        return (f'<text x="{(x(t1) if right else x(t0) + 2):.1f}" y="{8 + 12 * line + 9}" '
                f'fill="{color}" text-anchor="{"end" if right else "start"}">'
                f"{html.escape(text)}</text>")

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="11">']
    for b in bands:
        out.append(f'<rect x="{x(b["start"]):.1f}" y="{top}" '
                   f'width="{max(1.0, x(b["end"]) - x(b["start"])):.1f}" '
                   f'height="{row_h * rows}" fill="{FAULT_CSS}" opacity="0.5">'
                   f'<title>{html.escape(b["label"])}</title></rect>')
    for m in lies:
        out.append(f'<rect x="{x(m["time"]) - 1:.1f}" y="{top}" width="2" '
                   f'height="{row_h * rows}" fill="{LIE_CSS}">'
                   f'<title>{html.escape(m["label"] + ": " + m["told"])}</title></rect>')
    for (t0, t1, text, color), line in zip(marks, lines, strict=True):
        if line is not None:
            out.append(label(line, t0, t1, text, color))
    for w in range(workers):
        out.append(f'<text x="2" y="{top + row_h * w + 10}">worker {w}</text>')
    for s in spans:
        w = s["process"] % workers
        x0, x1 = x(s["start"]), x(s["end"])
        tip = (f'p{s["process"]} {s["f"]} {plain(s["in"])}'
               + (f' → {plain(s["out"])}' if s["out"] is not None else "")
               + f' ({STATUS_WORDS.get(s["type"], s["type"])})'
               + (f', key {plain(s["key"])}' if s["key"] is not None else ""))
        if s.get("node"):
            tip += f' via {s["node"]}'
        if s.get("error"):
            tip += f' ({s["error"]})'
        bad = any(i in flagged for i in s.get("indices", ()))
        if bad:
            tip += " (a checker flagged this)"
        edge = f' stroke="{FAILED_CSS}" stroke-width="2"' if bad else ""
        out.append(f'<rect x="{x0:.1f}" y="{top + row_h * w + 2}" '
                   f'width="{max(3.0 if bad else 1.0, x1 - x0):.1f}" height="{row_h - 4}" '
                   f'fill="{FAILED_CSS if bad else CSS_COLORS[s["type"]]}"{edge}>'
                   f'<title>{html.escape(tip)}</title></rect>')
    out += _event_ticks(ops, clients, flagged, workers, row_h, top, x)
    if leaders:
        out += _leader_row(leaders, top + row_h * (rows - 1), row_h, x)
    step = max(1, int(t_end / 10))
    for t in range(0, int(t_end) + 1, step):
        out.append(f'<text x="{x(t):.1f}" y="{height - 4}" text-anchor="middle">{t}s</text>')
    out.append("</svg>")
    if setup:
        out.append(f"<p>{len(setup)} setup op(s) before the load are not drawn.</p>")
    return "\n".join(out)


def leader_spans(ops: list[Op]) -> list[dict[str, Any]]:
    """Who led from when, from the target's ``leader`` events (``{"leader": node or
    None, "term": n}``), each span lasting until the next change or the end."""
    changes = [op for op in ops if op.process == "target" and op.f == "leader"
               and isinstance(op.value, dict)]
    end = time_end(ops)
    out = []
    for op, nxt in zip(changes, [*changes[1:], None], strict=False):
        out.append({"start": op.time / 1e9, "end": nxt.time / 1e9 if nxt else end,
                    "leader": op.value.get("leader"), "term": op.value.get("term")})
    return out


def _leader_row(leaders: list[dict[str, Any]], y: int, row_h: int, x: Any) -> list[str]:
    out = [f'<text x="2" y="{y + 10}">leader/term</text>']
    for i, s in enumerate(leaders):
        who = s["leader"] or "no leader"
        text = f'{who} t{s["term"]}' if s["term"] is not None else who
        fill = ("#dddddd" if not s["leader"] else ("#cfe3f7", "#f7e7c6")[i % 2])
        out.append(f'<rect x="{x(s["start"]):.1f}" y="{y + 1}" '
                   f'width="{max(1.0, x(s["end"]) - x(s["start"])):.1f}" '
                   f'height="{row_h - 2}" fill="{fill}" stroke="#888" stroke-width="0.5">'
                   f"<title>{html.escape(text)}</title></rect>")
        if x(s["end"]) - x(s["start"]) > 7 * len(text):
            out.append(f'<text x="{x(s["start"]) + 3:.1f}" y="{y + 10}" font-size="10">'
                       f"{html.escape(text)}</text>")
    return out


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
