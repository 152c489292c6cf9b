"""The latency plot, a checker as in Jepsen: every op's latency on a log scale against
time, with the fault bands and the lies a lying proxy told, written as ``latency.png``
by matplotlib (Agg, no display, no network); it always passes.

The time axis is the timeline's (``spans.time_end``, the same left and right margins at
the same pixel width), so the two pictures line up one above the other in the report.
"""

from __future__ import annotations

import io
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
from harness.checkers.timeline import CSS_COLORS, FAULT_CSS, LIE_CSS, MARGIN_L, MARGIN_R, WIDTH
from harness.history import Op

PNG = "latency.png"
HEIGHT = 340  # pixels, at DPI
DPI = 100
CHAR_PX = 5.2  # width of a caption character (8 pt at DPI), to keep captions apart
OUTCOMES = {"ok": "ok", "fail": "fail (certainly not done)",
            "info": "info (no reply: may or may not be done)"}


@dataclass
class LatencyPlot:
    name: str = "latency"

    def check(self, history: list[Op], context: CheckContext) -> CheckerResult:
        spans = op_spans(history)
        out = CheckerResult(VALID, "", details={"picture": True})
        if context.out is not None:
            png = latency_png(spans, fault_bands(history), lie_marks(history),
                              time_end(history))
            (context.out / PNG).write_bytes(png)
            out.artifacts["latency"] = PNG
        return out


def _ms_label(v: float, _pos: Any = None) -> str:
    if v >= 1000:
        return f"{v / 1000:g} s"
    return f"{v:g} ms"


def latency_png(spans: list[dict[str, Any]], bands: list[dict[str, Any]],
                lies: list[dict[str, Any]] | None = None,
                t_end: float | None = None) -> bytes:
    """The plot as PNG bytes; ``t_end`` is the shared time axis's end (default: the
    last thing drawn)."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, LogLocator

    lies = lies or []
    if t_end is None:
        t_end = max([s["end"] for s in spans] + [b["end"] for b in bands] +
                    [m["time"] for m in lies] + [1.0])
    fig = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    fig.set_facecolor("white")
    # The timeline's margins, so both pictures share their time axis pixel for pixel.
    ax = fig.add_axes((MARGIN_L / WIDTH, 0.16, 1 - (MARGIN_L + MARGIN_R) / WIDTH, 0.62))
    ax.set_xlim(0, t_end)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_major_formatter(FuncFormatter(_ms_label))
    ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
    ax.set_xlabel("time since the campaign started (s)", fontsize=10)
    ax.set_ylabel("latency (ms, log)", fontsize=10)
    ax.tick_params(labelsize=9)
    handles: list[Any] = []
    marks = sorted([(b["start"], b["end"], _cut(b["label"]), "#8b1a1a") for b in bands] +
                   [(m["time"], m["time"], m["label"], LIE_CSS) for m in lies])
    lines = label_lines([m[:3] for m in marks], t_end,
                        WIDTH - MARGIN_L - MARGIN_R, CHAR_PX)
    for b in bands:
        ax.axvspan(b["start"], b["end"], color=FAULT_CSS, alpha=0.5, linewidth=0)
    if bands:
        handles.append(Patch(color=FAULT_CSS, alpha=0.5, label="fault"))
    for m in lies:
        ax.axvline(m["time"], color=LIE_CSS, linewidth=1.5)
    for (t0, t1, text, color), line in zip(marks, lines, strict=True):
        if line is not None:
            _label(ax, t0, t1, text, t_end, line, color)
    if lies:
        handles.append(Patch(color=LIE_CSS, label="lie told"))
    # Drawn last so the rare timeouts are not hidden under thousands of oks.
    for kind in ("ok", "fail", "info"):
        xs = [s["start"] for s in spans if s["type"] == kind]
        ys = [max(s["end"] - s["start"], 1e-6) * 1000 for s in spans if s["type"] == kind]
        if xs:
            # Above the captions: a caption must never hide an op.
            handles.append(ax.scatter(xs, ys, s=6, color=CSS_COLORS[kind], linewidths=0,
                                      label=f"{OUTCOMES[kind]} ({len(xs)})", zorder=3))
    if not spans:
        ax.text(0.5, 0.5, "no client operations", transform=ax.transAxes, ha="center",
                color="#777777")
        ax.set_ylim(0.1, 1000)
    fig.text(MARGIN_L / WIDTH, 0.975, "Latency of each operation (call to reply)",
             fontsize=12, fontweight="bold", va="top")
    if handles:  # on a line of its own under the title, so the two never collide
        fig.legend(handles=handles, loc="upper left", ncol=len(handles), fontsize=8.5,
                   frameon=False, markerscale=2.5, borderaxespad=0,
                   bbox_to_anchor=(MARGIN_L / WIDTH - 0.01, 0.895))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _label(ax: Any, start: float, end: float, text: str, t_end: float, line: int,
           color: str) -> None:
    """A band's caption inside the plot on its line (``spans.label_lines``), anchored
    on the side that keeps it on the picture (never cut off at the right edge)."""
    right = runs_left(start, text, t_end, WIDTH - MARGIN_L - MARGIN_R, CHAR_PX)
    ax.text(end if right else start, 0.97 - 0.09 * line, " " + text + " ",
            transform=ax.get_xaxis_transform(), ha="right" if right else "left",
            va="top", fontsize=8, color=color, clip_on=True, zorder=2,
            bbox={"facecolor": "white", "alpha": 0.6, "linewidth": 0, "pad": 0.5})


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
