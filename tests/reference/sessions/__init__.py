"""Hand-written JSON-RPC sessions (data) and the runner that plays them on a server.

A session is a list of steps.  A step sends one message on one connection (``c``,
opened on first use) and says what to wait for before the step is over:

- by default the reply to the request it sent (``noreply`` for a request that must
  stay pending, such as a blocking ``wait`` or a lock that is not granted);
- ``await_reply: [conn, id]`` (or a list of them): a reply an earlier step left pending;
- ``await_note: [conn, method]``: a notification on some connection;
- ``expect_error``: the error (or details) string the reply must carry (top level, or
  in a transact result slot) on every server: this keeps each session honest about what it tests.
- ``close: True`` closes connection ``c`` instead of sending anything.

After each step the runner puts an ``echo`` barrier on every open connection, so each
step's transcript holds exactly what the server sent because of it.  The transcripts of
two servers are compared after UUID normalisation (see ``wire.py``).
"""

from __future__ import annotations

import importlib
from typing import Any

import orjson

from tests.reference.wire import Conn, ConnectionClosed

DB = "Crucible"
Step = dict[str, Any]

MODULES = ["methods", "transact", "errors", "monitors", "locks", "server_db", "weak_gc"]


def req(id_: Any, method: str, *params: Any, c: int = 0, **kw: Any) -> Step:
    return {"c": c, "send": {"method": method, "params": list(params), "id": id_}, **kw}


def tx(id_: Any, *ops: Any, c: int = 0, db: str = DB, **kw: Any) -> Step:
    return req(id_, "transact", db, *ops, c=c, **kw)


def note(method: str, *params: Any, c: int = 0, **kw: Any) -> Step:
    return {"c": c, "send": {"method": method, "params": list(params), "id": None}, **kw}


def load_sessions() -> dict[str, list[Step]]:
    out: dict[str, list[Step]] = {}
    for mod in MODULES:
        m = importlib.import_module(f"tests.reference.sessions.{mod}")
        for name, steps in m.SESSIONS.items():
            key = f"{mod}/{name}"
            assert key not in out, key
            out[key] = steps
    return out


def reply_error(reply: dict) -> list[str]:
    """The error and details strings a reply carries: top-level error or the first
    failing op of a transact (OVS reports some errors, such as a duplicate monitor ID,
    as a "syntax error" whose details name the problem)."""
    err = reply.get("error")
    if err is not None:
        if isinstance(err, dict):
            return [str(err.get("error")), str(err.get("details"))]
        return [str(err)]
    res = reply.get("result")
    if isinstance(res, list):
        for r in res:
            if isinstance(r, dict) and "error" in r:
                return [str(r["error"]), str(r.get("details"))]
    return []


class SessionFailed(AssertionError):
    pass


def run_session(remote: str, steps: list[Step], timeout: float = 10.0) -> tuple[list, list]:
    """Play `steps` against the server at `remote`.

    Returns (transcript, messages in arrival order).  The transcript has one entry per
    step: ``{conn: [messages...]}`` for every connection open at that point, plus
    ``"closed"`` for a connection the server dropped."""
    conns: dict[int, Conn] = {}
    transcript: list[Any] = []
    ordered: list[Any] = []
    try:
        for n, step in enumerate(steps):
            try:
                transcript.append(_play_step(remote, conns, ordered, n, step, timeout))
            except SessionFailed:
                raise
            except Exception as e:
                raise SessionFailed(f"step {n} ({step!r:.300}): {e!r}") from e
    finally:
        for cn in conns.values():
            cn.close()
    return transcript, ordered


def _is_note(what: str):
    return lambda m: isinstance(m, dict) and m.get("method") == what


def _play_step(remote: str, conns: dict[int, Conn], ordered: list[Any], n: int, step: Step,
               timeout: float) -> dict[str, Any]:
    """Do one step, then collect what every open connection received because of it."""
    c = step.get("c", 0)
    if step.get("close"):
        if c in conns:
            conns.pop(c).close()
        if "await_note" in step:
            wc, what = step["await_note"]
            conns[wc].wait_for(_is_note(what), timeout)
    else:
        _send_and_wait(remote, conns, n, step, timeout)
    got_step: dict[str, Any] = {}
    for cc in sorted(conns):
        cn = conns[cc]
        start = getattr(cn, "seen", 0)
        try:
            if cn.closed:
                raise ConnectionClosed("closed")
            cn.barrier(timeout)
            msgs = cn.received[start:]
        except ConnectionClosed:
            msgs = cn.received[start:] + ["closed"]
        cn.seen = len(cn.received)  # type: ignore[attr-defined]
        msgs = order_updates(msgs)
        got_step[str(cc)] = msgs
        ordered.extend(m for m in msgs if m != "closed")
    for cc in [cc for cc in conns if conns[cc].closed]:
        conns.pop(cc).close()
    return got_step


def _send_and_wait(remote: str, conns: dict[int, Conn], n: int, step: Step,
                   timeout: float) -> None:
    c = step.get("c", 0)
    if c not in conns:
        conns[c] = Conn.to(remote, timeout=timeout)
    msg = step["send"]
    try:
        conns[c].send(msg)
    except ConnectionClosed:
        return  # shows up as "closed" in this step's transcript
    want: list[tuple[int, str, Any]] = []
    if msg.get("id") is not None and not step.get("noreply"):
        want.append((c, "reply", msg["id"]))
    if "await_reply" in step:
        pending = step["await_reply"]
        for wc, wid in (pending if isinstance(pending[0], list) else [pending]):
            want.append((wc, "reply", wid))
    if "await_note" in step:
        want.append((step["await_note"][0], "note", step["await_note"][1]))
    for wc, kind, what in want:
        if conns[wc].closed:
            continue
        try:
            if kind == "note":
                conns[wc].wait_for(_is_note(what), timeout)
                continue
            got = conns[wc].wait_reply(what, timeout)
        except ConnectionClosed:
            continue
        if wc == c and what == msg.get("id") and "expect_error" in step \
                and step["expect_error"] not in reply_error(got):
            raise SessionFailed(f"step {n}: expected error {step['expect_error']!r}, "
                                f"got {got!r}")


UPDATE_METHODS = ("update", "update2", "update3")


def order_updates(msgs: list[Any]) -> list[Any]:
    """Stable-sort each run of consecutive monitor updates by monitor id.

    A server owes each monitor its updates in order, and all of them before the reply
    to the transaction that caused them; how it interleaves the streams of *different*
    monitors of one connection is not part of the protocol (OVS walks a hash map)."""
    out: list[Any] = []
    run: list[Any] = []

    def flush() -> None:
        run.sort(key=lambda m: orjson.dumps(m["params"][0] if m.get("params") else None,
                                            option=orjson.OPT_SORT_KEYS))
        out.extend(run)
        run.clear()

    for m in msgs:
        if isinstance(m, dict) and m.get("method") in UPDATE_METHODS and m.get("id") is None:
            run.append(m)
        else:
            flush()
            out.append(m)
    flush()
    return out
