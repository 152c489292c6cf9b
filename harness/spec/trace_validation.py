"""Trace validation: is a logged run of a monitor core a behaviour of MonitorDelta?

A trace is the JSON list of events described in spec/README.md ("Trace events").
``to_tla_module`` writes it as a TLA+ module (``MDTraceData``: the trace as a sequence
literal plus the constants it implies); ``check_trace`` puts that module next to copies
of MonitorDelta.tla and MonitorDeltaTrace.tla in a temporary folder and runs TLC.  The
trace module replays one event per step, so TLC violating the invariant ``NotDone``
means the whole trace was replayed: accepted.  When TLC instead runs out of states,
the depth it reached names the first event the spec could not take; when it violates
one of the spec's own invariants (also in the trace config), the event after which it
broke is the one rejected.

Usage: ``python -m harness.spec.trace_validation TRACE.json [...]`` (exit 0 all
accepted, 1 a trace rejected, 2 error).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from harness.spec import SPEC_DIR
from harness.spec.tlc import TlcResult, run_tlc

SPEC_FILES = ("MonitorDelta.tla", "MonitorDeltaTrace.tla", "MonitorDeltaTrace.cfg")

ORDERINGS = {"==", "!=", "<", "<=", ">", ">="}
DEFAULT_HIST = 100


class TraceError(ValueError):
    """The trace does not follow the event format (a malformed trace, not a rejected one)."""


# --- JSON values -> TLA+ text ------------------------------------------------------


def _int(x: Any, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, str)):
        raise TraceError(f"{what}: expected an integer, got {x!r}")
    try:
        return int(x)
    except ValueError:
        raise TraceError(f"{what}: expected an integer, got {x!r}") from None


def _int_set(x: Any, what: str) -> list[int]:
    """A set of ints: a list, ["set", [...]], or a bare int (a one-element set)."""
    if isinstance(x, list) and len(x) == 2 and x[0] == "set" and isinstance(x[1], list):
        x = x[1]
    if isinstance(x, list):
        return sorted({_int(v, what) for v in x})
    return [_int(x, what)]


def _pairs(x: Any, what: str) -> list[tuple[int, int]]:
    """A map int -> int: [[k, v], ...], ["map", [[k, v], ...]] or {"k": v}."""
    if isinstance(x, list) and len(x) == 2 and x[0] == "map" and isinstance(x[1], list):
        x = x[1]
    if isinstance(x, dict):
        items = list(x.items())
    elif isinstance(x, list):
        items = []
        for p in x:
            if not (isinstance(p, list) and len(p) == 2):
                raise TraceError(f"{what}: expected [key, value] pairs, got {p!r}")
            items.append((p[0], p[1]))
    else:
        raise TraceError(f"{what}: expected a map, got {x!r}")
    return sorted({(_int(k, what), _int(v, what)) for k, v in items})


def _keyed(x: Any, what: str) -> list[tuple[int, Any]]:
    """A JSON object keyed by row or client ids (decimal strings or ints)."""
    if isinstance(x, dict):
        return [(_int(k, what), v) for k, v in x.items()]
    if isinstance(x, list):  # also accept [[key, value], ...]
        return [(_int(p[0], what), p[1]) for p in x]
    raise TraceError(f"{what}: expected an object keyed by ids, got {x!r}")


def tla_set(items: list[str]) -> str:
    return "{" + ", ".join(items) + "}"


def tla_row(row: Any, what: str) -> str:
    if row is None:
        return "[ex |-> FALSE, n |-> 0, s |-> {}, m |-> {}]"
    if not isinstance(row, dict):
        raise TraceError(f"{what}: expected a row object or null, got {row!r}")
    n = _int(row.get("n", 0), what)
    s = _int_set(row.get("s", []), what)
    m = _pairs(row.get("m", []), what)
    return (f"[ex |-> TRUE, n |-> {n}, s |-> {tla_set([str(v) for v in s])}, "
            f"m |-> {tla_set([f'<<{k}, {v}>>' for k, v in m])}]")


def tla_row_update(row_id: int, u: dict, what: str) -> str:
    op = u.get("op")
    if op is None:  # raw update2 shape: {"insert": {...}} / {"modify": {...}} / {"delete": null}
        for k in ("initial", "insert", "modify", "delete"):
            if k in u:
                op, u = k, (u[k] or {})
                break
    if op == "initial":
        op = "insert"
    if op == "insert":
        n = [_int(u.get("n", 0), what)]
        s = _int_set(u.get("s", []), what)
        m = _pairs(u.get("m", []), what)
    elif op == "modify":
        n = [_int(u["n"], what)] if "n" in u else []
        s = _int_set(u.get("s", []), what)
        m = _pairs(u.get("m", []), what)
    elif op == "delete":
        n, s, m = [], [], []
    else:
        raise TraceError(f"{what}: unknown row update op {op!r}")
    return (f'[row |-> {row_id}, op |-> "{op}", n |-> {tla_set([str(v) for v in n])}, '
            f"s |-> {tla_set([str(v) for v in s])}, "
            f"m |-> {tla_set([f'<<{k}, {v}>>' for k, v in m])}]")


def update_rows(ups: Any, what: str) -> list[tuple[int, dict]]:
    """An update: a list of {"row": r, "op": ...} or an object {row: {...}}."""
    if isinstance(ups, list):
        out = []
        for u in ups:
            if not isinstance(u, dict) or "row" not in u:
                raise TraceError(f"{what}: a row update needs a 'row' field: {u!r}")
            out.append((_int(u["row"], what), u))
        return out
    if isinstance(ups, dict):
        return [(r, u) for r, u in _keyed(ups, what)]
    if ups is None:
        return []
    raise TraceError(f"{what}: expected a list of row updates, got {ups!r}")


def tla_update(ups: Any, what: str) -> str:
    return tla_set([tla_row_update(r, u, what) for r, u in update_rows(ups, what)])


def tla_clause(cl: Any, what: str) -> str:
    if cl is True or cl is False:
        return f'[fn |-> "{str(cl).lower()}", val |-> 0, set |-> {{}}]'
    if not (isinstance(cl, list) and len(cl) == 3):
        raise TraceError(f"{what}: a clause is true, false or [column, function, value]: {cl!r}")
    col, fn, val = cl
    if col == "n" and fn in ORDERINGS:
        return f'[fn |-> "{fn}", val |-> {_int(val, what)}, set |-> {{}}]'
    if col == "s" and fn in ("includes", "excludes"):
        members = tla_set([str(v) for v in _int_set(val, what)])
        return f'[fn |-> "{fn}", val |-> 0, set |-> {members}]'
    raise TraceError(f"{what}: unsupported clause {cl!r} (see spec/README.md, Conditions)")


def tla_cond(cond: Any, what: str) -> str:
    if cond is None:
        cond = []
    if isinstance(cond, dict):  # {"table": [clauses]} or {"where": [...]}: take the one list
        vals = list(cond.values())
        cond = vals[0] if len(vals) == 1 else cond.get("where", [])
        if isinstance(cond, dict):
            cond = cond.get("where", [])
    if not isinstance(cond, list):
        raise TraceError(f"{what}: a condition is a list of clauses, got {cond!r}")
    return tla_set(sorted({tla_clause(cl, what) for cl in cond}))


# --- The module ----------------------------------------------------------------------


@dataclass
class Prepared:
    module: str  # the text of MDTraceData.tla
    events: list[dict]  # the events replayed (Init removed)


def _rows_in(ev: dict) -> set[int]:
    rows: set[int] = set()
    for key in ("rows", "replica"):
        if key in ev and ev[key] is not None:
            rows |= {r for r, _ in _keyed(ev[key], key)}
    for key in ("ups",):
        if key in ev:
            rows |= {r for r, _ in update_rows(ev[key], key)}
    if "updates" in ev and ev["updates"]:
        for _, ups in _keyed(ev["updates"], "updates"):
            rows |= {r for r, _ in update_rows(ups, "updates")}
    return rows


def to_tla_module(trace: list[dict] | dict) -> Prepared:
    """Write the trace as the TLA+ module MDTraceData; raises TraceError if malformed."""
    if isinstance(trace, dict):
        trace = trace.get("events", [])
    if not isinstance(trace, list) or not all(isinstance(e, dict) for e in trace):
        raise TraceError("a trace is a JSON list of event objects")
    events = list(trace)
    init: dict = {}
    if events and events[0].get("action") == "Init":
        init = events.pop(0)
    clients: set[int] = {_int(c, "Init.clients") for c in init.get("clients", [])}
    rows: set[int] = set()
    records = []
    for idx, ev in enumerate(events, 1):
        act = ev.get("action")
        what = f"event {idx} ({act})"
        if "client" in ev:
            clients.add(_int(ev["client"], what))
        rows |= _rows_in(ev)
        if act == "Commit":
            updates = _keyed(ev.get("updates") or {}, what)
            clients |= {c for c, _ in updates}
            pairs = [f"<<{r}, {tla_row(v, what)}>>" for r, v in _keyed(ev.get("rows") or {}, what)]
            ups = [f"<<{c}, {tla_update(u, what)}>>" for c, u in updates]
            rec = (f'[action |-> "Commit", txn |-> {_int(ev.get("txn"), what)}, '
                   f"rows |-> {tla_set(pairs)}, updates |-> {tla_set(ups)}]")
        elif act == "RequestCondChange":
            rec = (f'[action |-> "RequestCondChange", client |-> {_int(ev.get("client"), what)}, '
                   f'cond |-> {tla_cond(ev.get("cond"), what)}]')
        elif act == "ServerCondChange":
            rec = (f'[action |-> "ServerCondChange", client |-> {_int(ev.get("client"), what)}, '
                   f'cond |-> {tla_cond(ev.get("cond"), what)}, ups |-> {tla_update(ev.get("ups"), what)}]')
        elif act == "Disconnect":
            rec = f'[action |-> "Disconnect", client |-> {_int(ev.get("client"), what)}]'
        elif act == "Resume":
            found = ev.get("found")
            if not isinstance(found, bool):
                raise TraceError(f"{what}: 'found' must be true or false")
            rec = (f'[action |-> "Resume", client |-> {_int(ev.get("client"), what)}, '
                   f'cond |-> {tla_cond(ev.get("cond"), what)}, last |-> {_int(ev.get("last", 0), what)}, '
                   f'found |-> {"TRUE" if found else "FALSE"}, txn |-> {_int(ev.get("txn"), what)}, '
                   f'ups |-> {tla_update(ev.get("ups"), what)}]')
        elif act == "ApplyUpdate2":
            rep = [f"<<{r}, {tla_row(v, what)}>>" for r, v in _keyed(ev.get("replica") or {}, what)]
            kind = ev.get("kind")
            if kind not in ("update", "cond", "resume", "full"):
                raise TraceError(f"{what}: kind must be update, cond, resume or full, got {kind!r}")
            rec = (f'[action |-> "ApplyUpdate2", client |-> {_int(ev.get("client"), what)}, '
                   f'kind |-> "{kind}", txn |-> {_int(ev.get("txn"), what)}, replica |-> {tla_set(rep)}]')
        else:
            raise TraceError(f"{what}: unknown action {act!r}")
        records.append(rec)
    if not clients:
        clients = {1}
    init_cond = {_int(c, "Init.cond"): k for c, k in _keyed(init.get("cond") or {}, "Init.cond")}
    cond_fn = " @@ ".join(
        f"({c} :> {tla_cond(init_cond.get(c, []), 'Init.cond')})" for c in sorted(clients)
    )
    count = {a: sum(1 for e in events if e.get("action") == a)
             for a in ("Commit", "RequestCondChange", "Disconnect")}
    body = ",\n  ".join(records)
    text = f"""---------------------------- MODULE MDTraceData ----------------------------
\\* Generated by harness/spec/trace_validation.py from a JSON trace of {len(events)} events.
EXTENDS Integers, TLC
TrClients == {tla_set([str(c) for c in sorted(clients)])}
TrRows == {tla_set([str(r) for r in sorted(rows or {0})])}
TrVals == {{0}}
TrConds == {{{{}}}}
TrHist == {_int(init.get("hist", DEFAULT_HIST), "Init.hist")}
TrMaxTxn == {count["Commit"]}
TrMaxCC == {count["RequestCondChange"]}
TrMaxDisc == {count["Disconnect"]}
TrInitCond == {cond_fn}
Trace == <<
  {body}
  >>
=============================================================================
"""
    return Prepared(module=text, events=events)


# --- Running it ------------------------------------------------------------------------


@dataclass
class TraceVerdict:
    accepted: bool
    events: int
    replayed: int  # events replayed before the spec got stuck (== events if accepted)
    message: str
    tlc: TlcResult | None = None

    @property
    def error(self) -> bool:
        return self.tlc is None or self.tlc.verdict == "error"


def replay(data_module: str, events: list, *, trace_module: str, cfg: str,
           spec_files: tuple[str, ...], spec_dir: Path = SPEC_DIR, timeout: float = 300.0,
           workers: int = 1) -> TraceVerdict:
    """Run TLC on a trace module that walks a cursor over ``Trace`` (defined in the
    generated module ``data_module``, whose text names it) and signals the end by
    violating ``NotDone``.  Spec-independent: MonitorDelta uses it, and a Raft trace
    module written the same way (a cursor, one event per step) can too."""
    n = len(events)
    with tempfile.TemporaryDirectory(prefix="crucible-trace-") as tmp:
        d = Path(tmp)
        for name in spec_files:
            shutil.copy(spec_dir / name, d / name)
        name = data_module.split("MODULE", 1)[1].split()[0]
        (d / f"{name}.tla").write_text(data_module)
        res = run_tlc(d / trace_module, d / cfg, workers=workers, heap="1g", timeout=timeout)
    if res.verdict == "violation" and res.property == "NotDone":
        return TraceVerdict(True, n, n, f"accepted: {n} events replayed", res)
    if res.verdict == "violation" and res.property and res.trace:
        # A spec invariant broke: the last state of TLC's trace is the one after the
        # event that broke it (state 1 is the initial state, state k follows event k-1).
        bad_at = min(n, max(1, len(res.trace) - 1))
        return TraceVerdict(False, n, bad_at - 1,
                            f"rejected at event {bad_at} of {n}: {res.property} violated after "
                            f"{orjson.dumps(events[bad_at - 1]).decode()}", res)
    if res.verdict == "pass" or (n == 0 and res.verdict != "error"):
        # Depth counts states; the initial state is depth 1, so depth - 1 events went
        # through and event number `depth` is the one no step could take.
        done = max(0, (res.depth or 1) - 1)
        if done >= n:
            return TraceVerdict(n == 0, n, done, "empty trace" if n == 0 else "?", res)
        bad = events[done]
        return TraceVerdict(False, n, done,
                            f"rejected at event {done + 1} of {n}: {orjson.dumps(bad).decode()}",
                            res)
    return TraceVerdict(False, n, 0, f"TLC error: {res.message or res.summary()}", res)


def check_trace(trace: list[dict] | dict, *, timeout: float = 300.0,
                spec_dir: Path = SPEC_DIR, workers: int = 1) -> TraceVerdict:
    """Run TLC on the trace; accepted iff every event is a step of MonitorDelta."""
    try:
        prep = to_tla_module(trace)
    except TraceError as e:
        return TraceVerdict(False, 0, 0, f"malformed trace: {e}")
    return replay(prep.module, prep.events, trace_module="MonitorDeltaTrace.tla",
                  cfg="MonitorDeltaTrace.cfg", spec_files=SPEC_FILES, spec_dir=spec_dir,
                  timeout=timeout, workers=workers)


def check_traces(traces: list, *, parallel: int = 2, timeout: float = 300.0,
                 check: Callable[..., TraceVerdict] | None = None) -> list[TraceVerdict]:
    """Check several traces with ``check`` (``check_trace`` by default), ``parallel``
    TLC processes at a time (one worker each)."""
    from concurrent.futures import ThreadPoolExecutor

    one = check or check_trace
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(lambda t: one(t, timeout=timeout), traces))


def main(argv: list[str], check: Callable[..., TraceVerdict] | None = None,
         module: str = "harness.spec.trace_validation") -> int:
    """The command line of a trace checker: each file's verdict; exit 0 all accepted,
    1 a trace rejected, 2 an error."""
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m {module} TRACE.json [...]")
        return 0 if argv else 2
    worst = 0
    for path in argv:
        try:
            trace = orjson.loads(Path(path).read_bytes())
        except (OSError, orjson.JSONDecodeError) as e:
            print(f"{path}: cannot read trace: {e}")
            worst = 2
            continue
        v = (check or check_trace)(trace)
        print(f"{path}: {v.message}")
        worst = max(worst, 0 if v.accepted else (2 if v.error else 1))
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
