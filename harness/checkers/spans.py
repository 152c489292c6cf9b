"""What the pictures draw, read from a history: client ops as spans (call to return),
faults as bands (start to stop), the lies a lying proxy told as marks, leader changes,
and the one time axis they share (``time_end``), so the latency plot and the timeline
line up."""

from __future__ import annotations

from typing import Any

from harness.history import Op


def op_spans(ops: list[Op]) -> list[dict[str, Any]]:
    """Client ops as spans: process, f, key, start/end (s), type, values."""
    pending: dict[Any, Any] = {}
    spans = []
    for op in ops:
        if isinstance(op.process, str):
            continue
        if op.type == "invoke":
            pending[op.process] = op
            continue
        inv = pending.pop(op.process, None)
        if inv is None:
            continue
        spans.append({"process": op.process, "f": inv.f, "key": inv.key,
                      "start": inv.time / 1e9, "end": op.time / 1e9, "type": op.type,
                      "in": inv.value, "out": op.value, "node": inv.extra.get("node"),
                      "error": op.extra.get("error"), "indices": (inv.index, op.index)})
    end = max((op.time for op in ops), default=0) / 1e9
    for inv in pending.values():  # never completed: indeterminate
        spans.append({"process": inv.process, "f": inv.f, "key": inv.key,
                      "start": inv.time / 1e9, "end": end, "type": "info", "in": inv.value,
                      "out": None, "node": inv.extra.get("node"), "error": "no completion",
                      "indices": (inv.index,)})
    return spans


def fault_bands(ops: list[Op]) -> list[dict[str, Any]]:
    """(start, end, label) for each fault, from the nemesis events."""
    open_: dict[Any, dict[str, Any]] = {}
    bands = []
    end = max((op.time for op in ops), default=0) / 1e9
    for op in ops:
        if op.process != "nemesis" or not isinstance(op.value, dict):
            continue
        if op.f.startswith("start-"):
            open_[op.value.get("id")] = {"start": op.time / 1e9, "end": end,
                                         "label": op.value.get("text", op.f[6:])}
        elif op.f.startswith("stop-"):
            band = open_.pop(op.value.get("id"), None)
            if band is not None:
                band["end"] = op.time / 1e9
                bands.append(band)
    bands += open_.values()
    return sorted(bands, key=lambda b: b["start"])



def time_end(ops: list[Op]) -> float:
    """The end of the time axis (s) every picture of this history uses."""
    return max([op.time / 1e9 for op in ops] + [1.0])


def lie_marks(ops: list[Op]) -> list[dict[str, Any]]:
    """Each lie the proxy told (``lie-told`` events of process ``"proxy"``): its time,
    a short label and what was told (in plain words, as the proxy recorded it)."""
    marks = []
    for op in ops:
        if op.process != "proxy" or not isinstance(op.value, dict):
            continue
        kind = str(op.value.get("lie", "?"))
        marks.append({"time": op.time / 1e9, "index": op.index, "label": f"lie: {kind}",
                      "told": str(op.value.get("told") or kind),
                      "node": op.value.get("node")})
    return marks


def label_lines(marks: list[tuple[float, float, str]], t_end: float, plot_px: float,
                char_px: float, lines: int = 3) -> list[int | None]:
    """On which of ``lines`` caption lines each (start, end, text) goes, in the order
    given (by time), so that no two captions overlap; None: no room left, the mark is
    drawn without a caption (the report's tables list them all).  A caption runs right
    from its start, or left from its end when it would not fit (``runs_left``), as the
    pictures anchor them, so that none is cut off at the right edge."""
    free = [-1e18] * lines  # per line: the px where its last caption ends
    out: list[int | None] = []
    for t0, t1, text in marks:
        w = char_px * (len(text) + 2)
        if runs_left(t0, text, t_end, plot_px, char_px):
            right = plot_px * t1 / t_end
            left = right - w
        else:
            left = plot_px * t0 / t_end
            right = left + w
        line = next((i for i in range(lines) if left > free[i] + 4), None)
        if line is not None:
            free[line] = right
        out.append(line)
    return out


def runs_left(t0: float, text: str, t_end: float, plot_px: float, char_px: float) -> bool:
    """Whether a caption starting at ``t0`` would run off the right edge, and so is
    anchored at its band's end and runs leftwards instead."""
    return plot_px * t0 / t_end + char_px * (len(text) + 2) > plot_px if t_end else False
