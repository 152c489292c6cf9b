"""The latency plot, a checker as in Jepsen: every op's latency on a log scale against
time, with the fault bands, written as ``latency.png`` (by ``harness.png``); it always
passes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.checkers.base import VALID, CheckContext, CheckerResult
from harness.checkers.spans import fault_bands, op_spans
from harness.checkers.timeline import COLORS
from harness.history import Op
from harness.png import Canvas

FAULT_PNG = (253, 226, 226)
PNG = "latency.png"


@dataclass
class LatencyPlot:
    name: str = "latency"

    def check(self, history: list[Op], context: CheckContext) -> CheckerResult:
        png = latency_png(op_spans(history), fault_bands(history))
        out = CheckerResult(VALID, "", details={"picture": True})
        if context.out is not None:
            (context.out / PNG).write_bytes(png)
            out.artifacts["latency"] = PNG
        return out


def latency_png(spans: list[dict[str, Any]], bands: list[dict[str, Any]],
                width: int = 900, height: int = 260) -> bytes:
    left, right, top, bottom = 50, 12, 10, 24
    c = Canvas(width, height)
    t_end = max([s["end"] for s in spans] + [b["end"] for b in bands] + [1.0])
    pw, ph = width - left - right, height - top - bottom
    lo, hi = -4.0, 1.0  # log10 seconds: 100 us .. 10 s

    def x(t: float) -> int:
        return left + int(pw * t / t_end)

    def y(lat: float) -> int:
        v = min(hi, max(lo, math.log10(max(lat, 1e-6))))
        return top + ph - int(ph * (v - lo) / (hi - lo))

    for b in bands:
        c.rect(x(b["start"]), top, x(b["end"]) + 1, top + ph, FAULT_PNG)
    grey = (200, 200, 200)
    for dec, label in zip(range(-4, 2), ["100us", "1ms", "10ms", "100ms", "1s", "10s"],
                          strict=True):
        yy = y(10.0 ** dec)
        c.hline(left, left + pw, yy, grey)
        c.text(2, yy - 4, label, scale=2)
    step = max(1, int(t_end / 10))
    for t in range(0, int(t_end) + 1, step):
        c.vline(x(t), top + ph, top + ph + 3, (0, 0, 0))
        c.text(x(t) - 6, top + ph + 8, f"{t}s", scale=2)
    c.vline(left, top, top + ph, (0, 0, 0))
    c.hline(left, left + pw, top + ph, (0, 0, 0))
    # Draw info last so the rare timeouts are not hidden under thousands of oks.
    for kind in ("ok", "fail", "info"):
        for s in spans:
            if s["type"] == kind:
                c.dot(x(s["start"]), y(s["end"] - s["start"]), COLORS[kind])
    return c.png()
