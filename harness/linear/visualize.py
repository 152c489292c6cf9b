"""A self-contained HTML page showing a checked history.

One row per process, each operation a bar from its call to its completion; an
indeterminate op continues as a dotted tail to the right edge (it may take effect at
any time after its call).  When the history is not linearizable,
the ops of the longest linearizable prefix the search found are green and numbered in
their linearization order, and the op that could not be placed is red; ops of other
keys are dimmed and can be hidden.  Fault events (non-client processes) are vertical
lines.  Two axes: real time, and event order (every call and return one step apart),
which keeps short ops readable when latencies vary a lot.  No external resources: it
opens offline and can be attached to a bug report.

As Porcupine's visualisation does, a failing history opens at the failing point (the
event-order axis, scrolled to the op that cannot be placed, with the longest
linearizable prefix before it), the process labels stay put while the ops scroll, and
each op's value is written on its bar, so nothing needs hovering to be read.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from harness.history import Op, Operation

if TYPE_CHECKING:
    from harness.linear import CheckResult

ROW_H = 22
LEFT = 12  # the ops pane's own margin; the process labels live in a pane of their own
LABELS_W = 90
TOP = 30
CHAR_W = 6.7  # px per character of the 11px monospace font, to fit text in a bar
ORDER_STEP = 100  # px between events on the event-order axis: room for a value

_CSS = """
body{font:13px system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px} .v-linearizable{color:#17803d} .v-not-linearizable{color:#c0262d}
.v-unknown{color:#a86b00}
table{border-collapse:collapse;margin:8px 0} td,th{border:1px solid #ccc;padding:2px 6px;
text-align:left;font-family:ui-monospace,monospace;font-size:12px}
.pane{display:flex;border:1px solid #ddd} .labels{flex:none;background:#fafafa;
border-right:1px solid #ddd} .wrap{overflow-x:auto;flex:1}
.stuck{background:#fbd5d6;padding:4px 8px;border-left:4px solid #c0262d}
rect.op{fill:#8aa4c8;stroke:#44618a;stroke-width:.5}
rect.fail{fill:#e4e4e4;stroke:#aaa} rect.info{fill:#f3c27a;stroke:#b07a20}
rect.lin{fill:#58b368;stroke:#1f6b2e} rect.blocked{fill:#e0454b;stroke:#8a0f14;stroke-width:2}
g.dim{opacity:.25} body.only g.dim{display:none}
text{font-size:11px;font-family:ui-monospace,monospace} text.n{fill:#fff;font-weight:bold}
line.ev{stroke:#7a3db8;stroke-dasharray:4 3} text.ev{fill:#7a3db8}
line.grid{stroke:#eee} .hidden{display:none}
line.tail{stroke:#d9a24a;stroke-width:2;stroke-dasharray:2 3}
.legend span{display:inline-block;padding:1px 6px;margin-right:6px;border-radius:3px}
"""

_JS = """
function axis(which){for(const id of ['time','order']){
document.getElementById('pane-'+id).classList.toggle('hidden',id!==which);}focus();}
function focus(){for(const w of document.querySelectorAll('.wrap')){
const b=w.querySelector('rect.blocked');if(!b||!w.clientWidth)continue;
w.scrollLeft=Math.max(0,b.x.baseVal.value-w.clientWidth*0.75);}}
window.addEventListener('load',focus);
"""


STATUS_WORDS = {"ok": "ok", "fail": "failed", "info": "no reply"}


def plain(value: Any) -> str:
    """A value as people write it: ``k1`` not ``'k1'``, ``1→2`` for a pair."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and not any(isinstance(v, (list, tuple, dict)) for v in value):
            return f"{plain(value[0])}→{plain(value[1])}"
        return "[" + ", ".join(plain(v) for v in value) + "]"
    return "nothing" if value is None else str(value)


def describe(op: Operation) -> str:
    """One operation in a line of plain words: process, function, values, outcome and
    key, e.g. ``p1 read → 5 (ok), key k1``."""
    if op.f == "read":
        what = f"→ {plain(op.output)}" if op.status == "ok" else ""
    else:
        what = plain(op.input)
        if op.status == "ok" and op.output is not None and op.output != op.input:
            what += f" → {plain(op.output)}"
    key = "" if op.key is None else f", key {plain(op.key)}"
    status = STATUS_WORDS.get(op.status, op.status)
    return f"p{op.process} {op.f} {what}".rstrip() + f" ({status}){key}"


def render(result: CheckResult) -> str:
    fail = result.failure
    order: dict[int, int] = {}
    blocked = None
    in_key: set[int] | None = None
    if fail is not None:
        order = {op_id: n + 1 for n, op_id in enumerate(fail.linearization)}
        blocked = fail.blocked
        in_key = {o.id for o in fail.ops}
    ops = result.operations
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>crucible check: {html.escape(result.verdict)}</title>",
        f"<style>{_CSS}</style><script>{_JS}</script></head><body>",
        f"<h1>Linearizability: <span class='v-{result.verdict}'>{result.verdict}</span></h1>",
        f"<p>{html.escape(result.summary())}</p>",
        "<p class='legend'><span style='background:#58b368'>linearizable prefix (numbered)"
        "</span><span style='background:#e0454b'>could not be placed</span>"
        "<span style='background:#8aa4c8'>ok</span><span style='background:#f3c27a'>"
        "indeterminate (info)</span><span style='background:#e4e4e4'>fail</span></p>",
        "<p>Axis: <button onclick=\"axis('time')\">time</button> "
        "<button onclick=\"axis('order')\">event order</button>",
    ]
    if in_key is not None:
        parts.append(" &nbsp; <label><input type='checkbox' onchange=\"document.body."
                     "classList.toggle('only',this.checked)\"> only the failing key</label>")
    parts.append("</p>")
    if fail is not None and blocked is not None:
        parts.append(f"<p class='stuck'>The first {len(fail.linearization)} operations "
                     f"of key {html.escape(repr(fail.key))} can be put in an order a "
                     "register allows (green, numbered); this one cannot be placed after "
                     f"them: <b>{html.escape(describe(ops[blocked]))}</b> (red, "
                     "<b>!</b>). The view opens there.</p>")
    # A failure opens on the event-order axis, where every op is wide enough to read.
    first = "order" if fail is not None else "time"
    parts.append(_svg(ops, result.events, order, blocked, in_key, "time", describe,
                      hidden=first != "time"))
    parts.append(_svg(ops, result.events, order, blocked, in_key, "order", describe,
                      hidden=first != "order"))
    if fail is not None:
        parts.append(_prefix_table(result, describe))
    parts.append("</body></html>")
    return "".join(parts)


def _prefix_table(result: CheckResult, describe: Any) -> str:
    fail = result.failure
    assert fail is not None
    rows = ["<h2>Longest linearizable prefix found, key "
            f"{html.escape(repr(fail.key))}</h2><table><tr><th>#</th><th>op</th>"
            "<th>history index</th><th>state after</th></tr>"]
    for n, (op_id, st) in enumerate(zip(fail.linearization, fail.states, strict=True), 1):
        o = result.operations[op_id]
        rows.append(f"<tr><td>{n}</td><td>{html.escape(describe(o))}</td>"
                    f"<td>{o.call_index}</td><td>{html.escape(st)}</td></tr>")
    if fail.blocked is not None:
        o = result.operations[fail.blocked]
        rows.append(f"<tr style='background:#fbd5d6'><td>!</td><td>{html.escape(describe(o))}"
                    f"</td><td>{o.call_index}</td><td>no point left to place this op</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def _svg(
    ops: list[Operation],
    events: list[Op],
    order: dict[int, int],
    blocked: int | None,
    in_key: set[int] | None,
    axis: str,
    describe: Any,
    hidden: bool = False,
) -> str:
    procs = sorted({o.process for o in ops} | {e.process for e in events},
                   key=lambda p: (isinstance(p, str), str(p) if isinstance(p, str) else p))
    row = {p: n for n, p in enumerate(procs)}
    if axis == "time":
        pos = {o.call_index: o.call_time for o in ops}
        pos.update({o.complete.index: o.complete.time for o in ops if o.complete is not None})
        pos.update({e.index: e.time for e in events})
    else:
        idxs = sorted({o.call_index for o in ops}
                      | {o.complete.index for o in ops if o.complete is not None}
                      | {e.index for e in events})
        pos = {ix: n for n, ix in enumerate(idxs)}
    lo = min(pos.values(), default=0)
    hi = max(pos.values(), default=1)
    span = max(hi - lo, 1)
    step = 14 if axis == "time" else ORDER_STEP
    width = max(900, min(150_000, step * len(pos)))
    height = TOP + ROW_H * max(len(procs), 1) + 10

    def x(v: float) -> float:
        return LEFT + (v - lo) / span * width

    # The labels pane does not scroll: the process names stay in view.
    labels = [f"<svg class='labels' xmlns='http://www.w3.org/2000/svg' width='{LABELS_W}' "
              f"height='{height}'><text x='4' y='{TOP - 10}'>process</text>"]
    for p in procs:
        y = TOP + row[p] * ROW_H
        labels.append(f"<text x='4' y='{y + 15}'>{html.escape(str(p))}</text>")
    labels.append("</svg>")
    out = [f"<div id='pane-{axis}' class='pane{' hidden' if hidden else ''}'>",
           *labels, f"<div class='wrap'><svg id='svg-{axis}' "
           f"xmlns='http://www.w3.org/2000/svg' width='{LEFT + width + 40}' height='{height}'>"]
    for k in range(11):  # grid and axis labels
        v = lo + span * k / 10
        label = f"{(v - lo) / 1e6:.1f} ms" if axis == "time" else f"#{int(v)}"
        out.append(f"<line class='grid' x1='{x(v):.1f}' x2='{x(v):.1f}' y1='{TOP - 5}' "
                   f"y2='{height}'/><text x='{x(v) + 2:.1f}' y='{TOP - 10}'>{label}</text>")
    for o in ops:
        y = TOP + row[o.process] * ROW_H + 3
        x1 = x(pos[o.call_index])
        # an indeterminate op is drawn solid up to its 'info' completion (if any), then
        # as a thin tail to the edge: it may take effect at any time after its call
        x2 = x(pos[o.complete.index]) if o.complete is not None else x1 + 6
        w = max(x2 - x1, 3)
        tail = ""
        if o.return_index is None:
            tail = (f"<line class='tail' x1='{x1 + w:.1f}' x2='{LEFT + width + 30}' "
                    f"y1='{y + (ROW_H - 6) / 2}' y2='{y + (ROW_H - 6) / 2}'/>")
        cls = "op"
        if o.id == blocked:
            cls = "blocked"
        elif o.id in order:
            cls = "lin"
        elif o.status == "fail":
            cls = "fail"
        elif o.status == "info":
            cls = "info"
        dim = " class='dim'" if in_key is not None and o.id not in in_key else ""
        tip = html.escape(f"{describe(o)}  index {o.call_index}..{o.return_index}")
        out.append(f"<g{dim}><title>{tip}</title>{tail}<rect class='{cls}' x='{x1:.1f}' "
                   f"y='{y}' width='{w:.1f}' height='{ROW_H - 6}' rx='2'/>")
        # The number in the linearization (or "!") and the value, as much as fits.
        mark = str(order[o.id]) if o.id in order else ("!" if o.id == blocked else "")
        text = f"{mark} {_short(o)}" if mark else _short(o)
        fits = int((w - 4) / CHAR_W)
        if fits >= len(mark or "x"):
            shown = text if len(text) <= fits else text[:max(fits - 1, 1)] + "…"
            if fits < len(text) and mark and fits <= len(mark) + 1:
                shown = mark
            css = " class='n'" if cls in ("lin", "blocked") else ""
            out.append(f"<text{css} x='{x1 + 3:.1f}' y='{y + 12}'>{html.escape(shown)}"
                       "</text>")
        out.append("</g>")
    for e in events:
        ex = x(pos[e.index])
        out.append(f"<line class='ev' x1='{ex:.1f}' x2='{ex:.1f}' y1='{TOP - 5}' y2='{height}'/>"
                   f"<text class='ev' x='{ex + 2:.1f}' y='{height - 2}'>"
                   f"{html.escape(_event_text(e))}</text>")
    out.append("</svg></div></div>")
    return "".join(out)


def _short(o: Operation) -> str:
    """An op's value as a bar can show it: ``read 5``, ``write 3``, ``cas 1→2``."""
    v = o.output if o.status == "ok" and o.f == "read" else o.input
    return f"{o.f} {'?' if v is None else plain(v)}"[:24]


def _event_text(e: Op) -> str:
    """A fault or lie line's caption: what happened, not the raw event."""
    v = e.value if isinstance(e.value, dict) else {}
    what = v.get("text") or v.get("lie") or ("" if isinstance(e.value, dict) else e.value)
    return f"{e.process}: {e.f} {what}".strip()[:34]
