"""The campaign report: one self-contained HTML page (plus ``latency.png``).

- verdicts of every checker, the seed and the command that reruns the campaign;
- a timeline (SVG): one row per worker, each op a bar from call to return coloured by
  outcome (ok, fail, info = no reply: drawn to the end of its timeout), faults as
  shaded bands across all rows;
- a latency plot (PNG written by ``harness.png``, embedded): every op's latency on a
  log scale against time, with the same fault bands;
- the fault schedule with what happened to each fault, the offline cluster check, and a
  link to the linearizability picture when the check failed.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from harness.png import Canvas

COLORS = {"ok": (46, 139, 87), "fail": (70, 110, 200), "info": (230, 140, 20)}
CSS_COLORS = {k: "#%02x%02x%02x" % v for k, v in COLORS.items()}
FAULT_PNG = (253, 226, 226)
FAULT_CSS = "#f7b5b5"


def op_spans(ops: list[Any]) -> list[dict[str, Any]]:
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


def fault_bands(ops: list[Any]) -> list[dict[str, Any]]:
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


def timeline_svg(spans: list[dict[str, Any]], bands: list[dict[str, Any]],
                 workers: int, width: int = 1100) -> str:
    row_h, left, top = 14, 70, 16
    workers = max(1, workers)
    setup = [s for s in spans if s["process"] >= 1_000_000]
    spans = [s for s in spans if s["process"] < 1_000_000]
    t_end = max([s["end"] for s in spans] + [b["end"] for b in bands] + [1.0])
    height = top + row_h * workers + 20
    pw = width - left - 10

    def x(t: float) -> float:
        return left + pw * t / t_end

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="sans-serif" font-size="10">']
    for b in bands:
        out.append(f'<rect x="{x(b["start"]):.1f}" y="{top}" '
                   f'width="{max(1.0, x(b["end"]) - x(b["start"])):.1f}" '
                   f'height="{row_h * workers}" fill="{FAULT_CSS}" opacity="0.5">'
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
    step = max(1, int(t_end / 10))
    for t in range(0, int(t_end) + 1, step):
        out.append(f'<text x="{x(t):.1f}" y="{height - 4}">{t}s</text>')
    out.append("</svg>")
    if setup:
        out.append(f"<p>{len(setup)} setup op(s) before the load are not drawn.</p>")
    return "\n".join(out)


def _badge(verdict: str) -> str:
    good = verdict in ("linearizable", "ok", "pass", "valid")
    color = "#2e8b57" if good else ("#c0392b" if verdict in
                                    ("not-linearizable", "failed", "invalid") else "#e67e22")
    return (f'<span style="background:{color};color:white;padding:2px 8px;'
            f'border-radius:4px">{html.escape(verdict)}</span>')


def render(results: dict[str, Any], ops: list[Any], png_name: str, png: bytes) -> str:
    spans = op_spans(ops)
    bands = fault_bands(ops)
    esc = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             f"<title>crucible campaign seed {results.get('seed')}</title>",
             "<style>body{font-family:sans-serif;margin:20px}td,th{padding:2px 8px;"
             "text-align:left;vertical-align:top}pre{background:#f4f4f4;padding:8px;"
             "white-space:pre-wrap}</style></head><body>",
             f"<h1>Campaign: {esc(str(results.get('workload')))} on "
             f"{esc(str(results.get('target')))} x{results.get('nodes')}</h1>",
             f"<p>seed <b>{results.get('seed')}</b>, {results.get('time_s')} s of load, "
             f"{results.get('workers')} workers, reads via {esc(str(results.get('reads')))}"
             f", faults: {esc(', '.join(results.get('nemesis') or []) or 'none')}; "
             f"ops: {esc(str(results.get('counts')))}</p>"]
    if results.get("command"):
        parts.append(f"<p>rerun: <code>{esc(results['command'])}</code></p>")
    parts.append("<h2>Verdicts</h2><table>")
    for name, c in results.get("checkers", {}).items():
        extra = esc(c.get("summary", ""))
        if c.get("html"):
            extra += f' — <a href="{esc(c["html"])}">linearizability timeline</a>'
        parts.append(f"<tr><th>{esc(name)}</th><td>{_badge(c['verdict'])}</td>"
                     f"<td>{extra}</td></tr>")
    parts.append("</table>")
    for name, c in results.get("checkers", {}).items():
        if c.get("html"):  # the checker's own picture: longest prefix, unplaceable op
            parts.append(f"<h2>{esc(name)}: where it failed</h2><iframe "
                         f'src="{esc(c["html"])}" style="width:100%;height:520px;'
                         'border:1px solid #ccc"></iframe>')
    b64 = base64.b64encode(png).decode()
    parts.append(f"<h2>Latency</h2><p>Each op's latency (log scale) against time; "
                 f"<span style='color:{CSS_COLORS['ok']}'>ok</span>, "
                 f"<span style='color:{CSS_COLORS['fail']}'>fail</span>, "
                 f"<span style='color:{CSS_COLORS['info']}'>info</span>; faults shaded. "
                 f"Also in <a href='{png_name}'>{png_name}</a>.</p>"
                 f"<img alt='latency plot' src='data:image/png;base64,{b64}'>")
    parts.append("<h2>Timeline</h2>")
    parts.append(timeline_svg(spans, bands, int(results.get("workers") or 1)))
    parts.append("<h2>Faults</h2><table><tr><th>#</th><th>start (s)</th><th>duration</th>"
                 "<th>fault</th><th>status</th></tr>")
    for f in results.get("faults", []):
        parts.append(f"<tr><td>{f['id']}</td><td>{f['start']}</td><td>{f['duration']}</td>"
                     f"<td>{esc(f['text'])}</td><td>{esc(str(f.get('status')))}"
                     f"{' — ' + esc(f['reason']) if f.get('reason') else ''}</td></tr>")
    parts.append("</table>")
    cc = results.get("checkers", {}).get("check-cluster")
    if cc:
        parts.append(f"<h2>ovsdb-tool check-cluster</h2><p>{_badge(cc['verdict'])}</p>"
                     f"<pre>{esc(cc.get('output') or '(no output)')}</pre>")
    notes = results.get("target_notes") or []
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes)
                     + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(out: Path, results: dict[str, Any], ops: list[Any],
                 latencies: Any = None) -> Path:
    spans = op_spans(ops)
    png = latency_png(spans, fault_bands(ops))
    (out / "latency.png").write_bytes(png)
    path = out / "report.html"
    path.write_text(render(results, ops, "latency.png", png), encoding="utf-8")
    return path
