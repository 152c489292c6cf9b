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
                      "error": op.extra.get("error")})
    end = max((op.time for op in ops), default=0) / 1e9
    for inv in pending.values():  # never completed: indeterminate
        spans.append({"process": inv.process, "f": inv.f, "key": inv.key,
                      "start": inv.time / 1e9, "end": end, "type": "info", "in": inv.value,
                      "out": None, "node": inv.extra.get("node"), "error": "no completion"})
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
