"""The campaign report: one self-contained HTML page, from the history and the
checkers' results only (``results.json`` and the files the checkers wrote).

- the verdict of every checker (one a line), the seed, the command that reruns the
  campaign, and the op counts in words (what "info" and "skipped" mean);
- the lies a lying proxy told (``--lie``), when and what was told;
- what failed: each failure a checker found (which property or rule, client, row,
  the stretch of clock it is about) with the history events that show it, as
  recorded in ``history.jsonl``;
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

from harness.checkers.spans import lie_marks
from harness.checkers.timeline import CSS_COLORS, LIE_CSS
from harness.history import Op

EVENT_CHARS = 700  # a history event longer than this is cut on the page
# What each op count means, for people who have not read Jepsen.
COUNT_WORDS = {
    "ok": "ok (done, and the client was told so)",
    "fail": "fail (certainly not done: refused, e.g. a lost compare-and-set, and retried)",
    "info": "info (no reply in time: may or may not have happened; the checkers allow "
            "both)",
    "skipped": "skipped (planned but never sent: no server could be reached, e.g. while "
               "it was killed or paused; not in the history)",
}


def counts_text(counts: dict[str, int] | None) -> str:
    """Op counts in words, e.g. ``906 ok (...), 7 info (...)``; zero counts left out."""
    counts = {k: v for k, v in (counts or {}).items() if v}
    if not counts:
        return "no client operations"
    order = [k for k in COUNT_WORDS if k in counts] + [k for k in counts
                                                      if k not in COUNT_WORDS]
    return ", ".join(f"{counts[k]} {COUNT_WORDS.get(k, k)}" for k in order)


def _badge(verdict: str) -> str:
    good = verdict in ("linearizable", "ok", "pass", "valid")
    color = "#2e8b57" if good else ("#c0392b" if verdict in
                                    ("not-linearizable", "failed", "invalid") else "#e67e22")
    return (f'<span style="background:{color};color:white;padding:2px 8px;'
            f'border-radius:4px;white-space:nowrap">{html.escape(verdict)}</span>')


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
        client = f.get("client") or ""
        who = ", ".join(x for x in ((f"<b>{esc(client)}</b>" if client.startswith("writer")
                                     else f"client <b>{esc(client)}</b>") if client
                                    else "", f"row <code>{esc(f['row'])}</code>"
                                    if f.get("row") else "",
                                    esc(f["clocks"]) if f.get("clocks") else "") if x)
        parts.append(f"<h3><span style='color:#c0392b'>{esc(f['what'])}</span>"
                     f"{' — ' + who if who else ''}</h3><p>{esc(f['message'])}</p>")
        events = [i for i in f.get("events") or [] if i in by_index]
        if events:
            parts.append("<pre>" + "".join(
                f'<span id="ev{i}">{esc(_event_line(by_index[i]))}</span>'
                for i in sorted(events)) + "</pre>")
    parts.append("<p>The messages above are the lines of <a href='history.jsonl'>"
                 "history.jsonl</a> that show it; the timeline below marks them in red.</p>")
    return "\n".join(parts)


STYLE = ("body{font-family:sans-serif;font-size:15px;margin:20px;max-width:1200px}"
         "td,th{padding:2px 8px;text-align:left;vertical-align:top}"
         "pre{background:#f4f4f4;padding:8px;white-space:pre-wrap;font-size:12px}"
         "pre span{display:block;margin-bottom:4px}.verdicts td,.verdicts th{padding:4px 8px}"
         "table.grid{border-collapse:collapse}table.grid td,table.grid th"
         "{border-bottom:1px solid #e4e4e4}")


def render(results: dict[str, Any], ops: list[Op], out: Path | None = None) -> str:
    esc = html.escape
    checkers: dict[str, dict[str, Any]] = results.get("checkers", {})
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             f"<title>crucible campaign seed {results.get('seed')}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>Campaign: {esc(str(results.get('workload')))} on "
             f"{esc(str(results.get('target')))} x{results.get('nodes')}</h1>",
             f"<p>seed <b>{results.get('seed')}</b>, {results.get('time_s')} s of load, "
             f"{results.get('workers')} workers, reads via {esc(str(results.get('reads')))}"
             f", faults asked for: {esc(', '.join(results.get('nemesis') or []) or 'none')}"
             "</p>",
             f"<p>Operations: {esc(counts_text(results.get('counts')))}.</p>"]
    if results.get("command"):
        parts.append(f"<p>rerun: <code>{esc(results['command'])}</code></p>")
    if results.get("verdict_line"):  # faults injected, Ctrl-C
        parts.append(f"<p><b>{esc(results['verdict_line'])}</b></p>")
    parts.append(verdicts_html(results, checkers))
    parts.append(lies_html(results, ops))
    by_index = {op.index: op for op in ops}
    for name, c in checkers.items():
        if c.get("failures"):
            parts.append(f'<div id="failed-{esc(name)}">'
                         f"{failures_html(name, c, by_index)}</div>")
        if c.get("html"):  # the checker's own picture: longest prefix, unplaceable op
            caption = c.get("html_caption") or (
                "The operations the checker could place in order (the longest "
                "linearizable prefix) and the one it could not")
            parts.append(f"<h2>{esc(name)}: where it failed</h2><p>{esc(caption)}; opens "
                         f'<a href="{esc(c["html"])}">on its own page</a> too.</p><iframe '
                         f'src="{esc(c["html"])}" style="width:100%;'
                         f'height:{int(c.get("html_height") or 560)}px;'
                         'border:1px solid #ccc"></iframe>')
    png = _artifact(out, checkers.get("latency", {}), "latency")
    if png is not None:
        b64 = base64.b64encode(png.read_bytes()).decode()
        parts.append(f"<h2>Latency</h2><p>Each op's latency (log scale) against time; "
                     f"<span style='color:{CSS_COLORS['ok']}'>ok</span>, "
                     f"<span style='color:{CSS_COLORS['fail']}'>fail</span>, "
                     f"<span style='color:{CSS_COLORS['info']}'>info</span>; faults shaded, "
                     f"<span style='color:{LIE_CSS}'>lies</span> as lines; the same time "
                     f"axis as the timeline below. Also in <a href='{png.name}'>{png.name}"
                     f"</a>.</p><img alt='latency plot' style='max-width:100%' "
                     f"src='data:image/png;base64,{b64}'>")
    svg = _artifact(out, checkers.get("timeline", {}), "timeline")
    if svg is not None:
        parts.append("<h2>Timeline</h2><p>One row per worker (writer) and per monitoring "
                     "client: each op a bar from call to reply, "
                     f"<span style='color:{CSS_COLORS['ok']}'>ok</span>, "
                     f"<span style='color:{CSS_COLORS['fail']}'>fail</span> or "
                     f"<span style='color:{CSS_COLORS['info']}'>info</span> (drawn to the "
                     "end of its timeout); each update a monitoring client received a "
                     "grey tick, red where a failure above points; faults shaded, lies "
                     "as purple lines. Hover for details.</p>")
        parts.append(svg.read_text(encoding="utf-8"))
    parts.append(faults_html(results.get("faults") or []))
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


def verdicts_html(results: dict[str, Any], checkers: dict[str, dict[str, Any]]) -> str:
    """One verdict a line: the checker, its word, its summary and where to look."""
    esc = html.escape
    rows = ["<h2>Verdicts</h2><table class='verdicts'>"]
    for name, c in checkers.items():
        if c.get("picture") and c.get("validity") != "unknown":
            continue  # a picture is no finding, unless it could not be drawn
        extra = esc(c.get("summary", ""))
        if c.get("html"):
            link = "anomalies" if c.get("html_caption") else "linearizability timeline"
            extra += f' — <a href="{esc(c["html"])}">{link}</a>'
        if c.get("failures"):
            extra += f' — <a href="#failed-{esc(name)}">what failed</a>'
        rows.append(f"<tr><th>{esc(name)}</th><td>{_badge(c['verdict'])}</td>"
                    f"<td>{extra}</td></tr>")
    lie = results.get("lie")
    if lie:
        n = len(lie.get("told") or [])
        rows.append(f"<tr><th>self-test</th><td>{_badge('lied')}</td><td>the proxies told "
                    f"{n} {esc(str(lie.get('kind')))} lie(s) (armed: {lie.get('armed')}): "
                    "a checker must fail, or it missed them — <a href='#lies'>the lies"
                    "</a></td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def lies_html(results: dict[str, Any], ops: list[Op]) -> str:
    """The lies told, from the history's ``lie-told`` events: when, where, what."""
    marks = lie_marks(ops)
    if not marks and not results.get("lie"):
        return ""
    esc = html.escape
    rows = ["<h2 id='lies'>Lies told</h2><p>A proxy between clients and server lied on "
            "the server's behalf (<code>--lie</code>), to show that the checkers catch it. "
            "Each lie is a purple line on the latency plot and the timeline.</p>"]
    if not marks:
        rows.append("<p>No lie was told: the run proves nothing about the checkers.</p>")
        return "\n".join(rows)
    rows.append("<table class='grid'><tr><th>time (s)</th><th>node</th><th>lie</th>"
                "<th>what was told</th></tr>")
    for m in marks:
        rows.append(f"<tr><td>{m['time']:.2f}</td><td>{esc(str(m.get('node') or ''))}</td>"
                    f"<td>{esc(m['label'][5:])}</td><td>{esc(m['told'])}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def faults_html(faults: list[dict[str, Any]]) -> str:
    esc = html.escape
    if not faults:
        return "<h2>Faults</h2><p>No faults were scheduled in this run.</p>"
    rows = ["<h2>Faults</h2><table class='grid'><tr><th>#</th><th>start (s)</th>"
            "<th>duration (s)</th><th>fault</th><th>what happened</th></tr>"]
    for f in faults:
        rows.append(f"<tr><td>{f['id']}</td><td>{f['start']}</td><td>{f['duration']}</td>"
                    f"<td>{esc(f['text'])}</td><td>{esc(str(f.get('status')))}"
                    f"{' — ' + esc(f['reason']) if f.get('reason') else ''}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def write_report(out: Path, results: dict[str, Any], ops: list[Op]) -> Path:
    path = out / "report.html"
    path.write_text(render(results, ops, out), encoding="utf-8")
    return path
