"""The campaign report: one self-contained HTML page, from the history and the
checkers' results only (``results.json`` and the files the checkers wrote).

- the verdict of every checker, the seed and the command that reruns the campaign;
- what failed: each failure a checker found (which property or rule, client, row)
  with the history events that show it, as recorded in ``history.jsonl``;
- the checkers' pictures: the linearizability timeline when that check failed, the
  latency plot (PNG, embedded) and the timeline (SVG, inline; events a failure points
  at in red);
- the fault schedule with what happened to each fault, the offline cluster check, and
  the notes of the target and of the checkers.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import orjson

from harness.checkers.timeline import CSS_COLORS
from harness.history import Op

EVENT_CHARS = 700  # a history event longer than this is cut on the page


def _badge(verdict: str) -> str:
    good = verdict in ("linearizable", "ok", "pass", "valid")
    color = "#2e8b57" if good else ("#c0392b" if verdict in
                                    ("not-linearizable", "failed", "invalid") else "#e67e22")
    return (f'<span style="background:{color};color:white;padding:2px 8px;'
            f'border-radius:4px">{html.escape(verdict)}</span>')


def _artifact(out: Path | None, checker: dict[str, Any], label: str) -> Path | None:
    name = (checker.get("artifacts") or {}).get(label)
    if out is None or not name or not (out / name).exists():
        return None
    return out / name


def _event_line(op: Op) -> str:
    text = orjson.dumps(op.to_dict()).decode()  # Jepsen's field order
    return text if len(text) <= EVENT_CHARS else text[:EVENT_CHARS] + " …"


def failures_html(name: str, checker: dict[str, Any], by_index: dict[int, Op]) -> str:
    """The failures a checker found, each with the history events that show it (as
    they are in ``history.jsonl``, in history order)."""
    esc = html.escape
    parts = [f"<h2>{esc(name)}: what failed</h2>"]
    for f in checker.get("failures") or []:
        who = " ".join(x for x in (f"client <b>{esc(f['client'])}</b>" if f.get("client")
                                   else "", f"row <code>{esc(f['row'])}</code>"
                                   if f.get("row") else "") if x)
        parts.append(f"<h3><span style='color:#c0392b'>{esc(f['what'])}</span>"
                     f"{' — ' + who if who else ''}</h3><p>{esc(f['message'])}</p>")
        events = [i for i in f.get("events") or [] if i in by_index]
        if events:
            parts.append("<pre>" + "".join(
                f'<span id="ev{i}">{esc(_event_line(by_index[i]))}</span>'
                for i in sorted(events)) + "</pre>")
    parts.append("<p>Events are lines of <a href='history.jsonl'>history.jsonl</a>; the "
                 "timeline below marks them in red.</p>")
    return "\n".join(parts)


def render(results: dict[str, Any], ops: list[Op], out: Path | None = None) -> str:
    esc = html.escape
    checkers: dict[str, dict[str, Any]] = results.get("checkers", {})
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             f"<title>crucible campaign seed {results.get('seed')}</title>",
             "<style>body{font-family:sans-serif;margin:20px}td,th{padding:2px 8px;"
             "text-align:left;vertical-align:top}pre{background:#f4f4f4;padding:8px;"
             "white-space:pre-wrap}pre span{display:block;margin-bottom:4px}</style>"
             "</head><body>",
             f"<h1>Campaign: {esc(str(results.get('workload')))} on "
             f"{esc(str(results.get('target')))} x{results.get('nodes')}</h1>",
             f"<p>seed <b>{results.get('seed')}</b>, {results.get('time_s')} s of load, "
             f"{results.get('workers')} workers, reads via {esc(str(results.get('reads')))}"
             f", faults: {esc(', '.join(results.get('nemesis') or []) or 'none')}; "
             f"ops: {esc(str(results.get('counts')))}</p>"]
    if results.get("command"):
        parts.append(f"<p>rerun: <code>{esc(results['command'])}</code></p>")
    parts.append(f"<p><b>{esc(results.get('verdict_line', ''))}</b></p>")  # faults, Ctrl-C
    parts.append("<h2>Verdicts</h2><table>")
    for name, c in checkers.items():
        if c.get("picture"):
            continue
        extra = esc(c.get("summary", ""))
        if c.get("html"):
            extra += f' — <a href="{esc(c["html"])}">linearizability timeline</a>'
        if c.get("failures"):
            extra += f' — <a href="#failed-{esc(name)}">what failed</a>'
        parts.append(f"<tr><th>{esc(name)}</th><td>{_badge(c['verdict'])}</td>"
                     f"<td>{extra}</td></tr>")
    parts.append("</table>")
    by_index = {op.index: op for op in ops}
    for name, c in checkers.items():
        if c.get("failures"):
            parts.append(f'<div id="failed-{esc(name)}">'
                         f"{failures_html(name, c, by_index)}</div>")
        if c.get("html"):  # the checker's own picture: longest prefix, unplaceable op
            parts.append(f"<h2>{esc(name)}: where it failed</h2><iframe "
                         f'src="{esc(c["html"])}" style="width:100%;height:520px;'
                         'border:1px solid #ccc"></iframe>')
    png = _artifact(out, checkers.get("latency", {}), "latency")
    if png is not None:
        b64 = base64.b64encode(png.read_bytes()).decode()
        parts.append(f"<h2>Latency</h2><p>Each op's latency (log scale) against time; "
                     f"<span style='color:{CSS_COLORS['ok']}'>ok</span>, "
                     f"<span style='color:{CSS_COLORS['fail']}'>fail</span>, "
                     f"<span style='color:{CSS_COLORS['info']}'>info</span>; faults shaded. "
                     f"Also in <a href='{png.name}'>{png.name}</a>.</p>"
                     f"<img alt='latency plot' src='data:image/png;base64,{b64}'>")
    svg = _artifact(out, checkers.get("timeline", {}), "timeline")
    if svg is not None:
        parts.append("<h2>Timeline</h2>")
        parts.append(svg.read_text(encoding="utf-8"))
    parts.append("<h2>Faults</h2><table><tr><th>#</th><th>start (s)</th><th>duration</th>"
                 "<th>fault</th><th>status</th></tr>")
    for f in results.get("faults", []):
        parts.append(f"<tr><td>{f['id']}</td><td>{f['start']}</td><td>{f['duration']}</td>"
                     f"<td>{esc(f['text'])}</td><td>{esc(str(f.get('status')))}"
                     f"{' — ' + esc(f['reason']) if f.get('reason') else ''}</td></tr>")
    parts.append("</table>")
    cc = checkers.get("check-cluster")
    if cc:
        parts.append(f"<h2>ovsdb-tool check-cluster</h2><p>{_badge(cc['verdict'])}</p>"
                     f"<pre>{esc(cc.get('output') or '(no output)')}</pre>")
    notes = list(results.get("target_notes") or [])
    notes += [f"{name}: {n}" for name, c in checkers.items() for n in c.get("notes") or []]
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes)
                     + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(out: Path, results: dict[str, Any], ops: list[Op]) -> Path:
    path = out / "report.html"
    path.write_text(render(results, ops, out), encoding="utf-8")
    return path
