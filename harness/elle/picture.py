"""Pictures of the anomalies: each cycle drawn as transactions round a circle with
numbered, coloured arrows (ww, wr, rw, process, real-time), and one self-contained HTML
page with every anomaly, its explanation and its picture (``elle.html``)."""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.elle import ElleResult

COLORS = {"ww": "#1f5fbf", "wr": "#2e8b57", "rw": "#c0392b", "process": "#7f7f7f",
          "realtime": "#e67e22"}
WORDS = {"ww": "write-write: appended right after", "wr": "write-read: read the append of",
         "rw": "read-write: read the version before the append of",
         "process": "same process, later", "realtime": "began after the other completed"}


def cycle_svg(steps: list[dict[str, Any]], texts: dict[int, str], size: int = 420) -> str:
    """A cycle as SVG: node i of n sits at angle 2*pi*i/n; the arrow of step i bows
    outwards (so the two arrows of a 2-cycle do not overlap) and carries its number."""
    esc = html.escape
    n = len(steps)
    cx = cy = size / 2
    radius = size / 2 - 70 if n > 1 else 0
    pos = {}
    for i, s in enumerate(steps):
        angle = -math.pi / 2 + 2 * math.pi * i / n
        pos[s["from"]] = (cx + radius * math.cos(angle), cy + radius * math.sin(angle))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
             f'viewBox="0 0 {size} {size}" style="flex:none" font-family="sans-serif" '
             'font-size="13">',
             "<defs>" + "".join(
                 f'<marker id="arrow-{t}" viewBox="0 0 10 10" refX="9" refY="5" '
                 f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                 f'<path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
                 for t, c in COLORS.items()) + "</defs>"]
    for i, s in enumerate(steps):
        (x1, y1), (x2, y2) = pos[s["from"]], pos[s["to"]]
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        # Leave the node boxes (about 34 px half-width) before the arrow starts and ends.
        x1, y1, x2, y2 = x1 + 36 * ux, y1 + 22 * uy, x2 - 36 * ux, y2 - 22 * uy
        bow = 0.25 * length
        mx, my = (x1 + x2) / 2 - uy * bow, (y1 + y2) / 2 + ux * bow
        color = COLORS.get(s["type"], "#000")
        parts.append(f'<path d="M{x1:.1f},{y1:.1f} Q{mx:.1f},{my:.1f} {x2:.1f},{y2:.1f}" '
                     f'fill="none" stroke="{color}" stroke-width="2.5" '
                     f'marker-end="url(#arrow-{s["type"]})"><title>{esc(s["why"])}</title>'
                     "</path>")
        lx, ly = (x1 + x2) / 4 + mx / 2, (y1 + y2) / 4 + my / 2
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="{color}" '
                     f'font-weight="bold">{i + 1} {esc(s["type"])}</text>')
    for t, (x, y) in pos.items():
        parts.append(f'<g><title>{esc(texts.get(t, ""))}</title><rect x="{x - 34:.1f}" '
                     f'y="{y - 18:.1f}" width="68" height="36" rx="8" fill="#fff8e1" '
                     f'stroke="#333"/><text x="{x:.1f}" y="{y + 5:.1f}" '
                     f'text-anchor="middle" font-weight="bold">T{t}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def legend() -> str:
    return " ".join(f"<span style='color:{c};font-weight:bold'>{t}</span> "
                    f"({html.escape(WORDS[t])})" for t, c in COLORS.items())


def anomaly_html(result: ElleResult, per_type: int = 3) -> str:
    """Every anomaly type with up to ``per_type`` examples each: explanation,
    transactions, and for a cycle its picture and numbered steps."""
    esc = html.escape
    an = result.analysis
    parts = []
    shown: dict[str, int] = {}
    for a in result.anomalies:
        shown[a.type] = shown.get(a.type, 0) + 1
        if shown[a.type] > per_type:
            continue
        parts.append(f"<div class='anomaly'><h3><span style='color:#c0392b'>"
                     f"{esc(a.type)}</span></h3>")
        if a.steps:  # the picture first: it is what a reader looks at
            texts = {t: an.txns[t].text() for t in a.txns} if an is not None else {}
            parts.append("<div style='display:flex;gap:24px;align-items:flex-start'>"
                         + cycle_svg(a.steps, texts, size=340) + "<div><ol>" + "".join(
                             f"<li><b style='color:{COLORS.get(s['type'], '#000')}'>"
                             f"T{s['from']} &lt; T{s['to']} ({esc(s['type'])})</b>: "
                             f"{esc(s['why'])}</li>" for s in a.steps) + "</ol>")
        parts.append(f"<p>{esc(a.explanation)}</p>")
        if an is not None:
            parts.append("<pre>" + "".join(
                f"{esc(an.txns[t].label())}: {esc(an.txns[t].text())}\n" for t in a.txns)
                + "</pre>")
        if a.steps:
            parts.append("</div></div>")
        parts.append("</div>")
    return "\n".join(parts)


def models_html(result: ElleResult) -> str:
    """The verdict per model on one line, weakest model first."""
    colors = {"valid": "#2e8b57", "invalid": "#c0392b"}
    return "<p>" + " &middot; ".join(
        f"{html.escape(m)} <b style='color:{colors.get(v, '#e67e22')}'>{v}</b>"
        for m, v in result.models.items()) + "</p>"


def write_html(result: ElleResult, path: str | Path, title: str = "list-append") -> Path:
    esc = html.escape
    path = Path(path)
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{esc(title)}: transactional anomalies</title><style>"
            "body{font-family:sans-serif;font-size:15px;margin:20px;max-width:1200px}"
            "pre{background:#f4f4f4;padding:8px;white-space:pre-wrap;font-size:12px}"
            "td,th{padding:2px 10px;text-align:left}.anomaly{border-top:1px solid #ddd}"
            f"</style></head><body><h1>{esc(title)}: transactional anomalies</h1>"
            f"<p>{esc(result.summary())}</p>{models_html(result)}<h2>Anomalies</h2><p>Arrows: {legend()}.</p>"
            f"{anomaly_html(result) or '<p>None.</p>'}</body></html>")
    path.write_text(page, encoding="utf-8")
    return path
