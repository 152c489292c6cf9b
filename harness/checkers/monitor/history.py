"""How a monitor run lives in ``history.jsonl``, and how the checker reads it back.

The monitor workload records into the same history as every workload (Jepsen's fields
``index, time, process, type, f, value``):

- set-up, process 1000000: ``invoke setup {"rows": [row, ...]}`` then
  ``ok setup {"initial": {table: {uuid: row}}, "schema": schema}``: the state before
  transaction 1 and the database schema (column kinds for set and map diffs);
- each write transaction, integer processes (a writer continues under a new number
  after an ``info``, as in Jepsen): ``invoke txn {"clock": c, "token": t, "plan":
  [[kind, uuid or uuid-name, row], ...]}``; then ``ok txn {"seq": c + 1, "changes":
  {table: {uuid: row | null}}}`` (committed as transaction c + 1), ``fail`` (the wait
  on the clock failed: certainly not committed) or ``info`` (no reply: indeterminate);
- the final read, process 1000001: ``invoke final-read`` then ``ok final-read
  {"clock": n, "rows": {uuid: row}, "log": [token, ...]}`` (``info`` if it could not
  be read), which settles the indeterminate writes (:func:`resolve_unknown`) and holds
  the server to its replies: every acknowledged write's token must be in the log, no
  refused write's may be (:func:`check_acknowledged`);
- everything a monitoring client sees, string processes ``"m0"``, ``"m1"``, ...,
  type ``info`` (events, not calls), in arrival order, ``f`` one of ``monitor``,
  ``update``, ``cond_change``, ``cond_change_reply``, ``disconnect`` and ``value`` the
  rest of the event as the property checker reads it (see ``harness.checkers.monitor``):
  ``monitor {"method", "cond", "columns", "since", "found", "last_txn_id",
  "updates"}``, ``update {"updates", "last_txn_id"}``, ``cond_change {"cond"}``,
  ``cond_change_reply {"error"}``, ``disconnect {}``.

Pure: ops in, checker input out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.checkers.monitor.report import ACKNOWLEDGED, Violation
from harness.history import Op

SETUP_PROCESS = 1_000_000
FINAL_PROCESS = 1_000_001
SETUP, TXN, FINAL_READ = "setup", "txn", "final-read"
EVENTS = ("monitor", "update", "cond_change", "cond_change_reply", "disconnect")


@dataclass
class MonitorInput:
    """What the property checker needs, as read from a history."""

    writes: dict[str, Any]  # {"initial": ..., "txns": [...]}
    streams: list[dict[str, Any]]  # [{"client": name, "events": [...]}]
    schema: dict[str, Any] | None = None
    indeterminate: int = 0  # writes without a definite reply
    notes: list[str] = field(default_factory=list)
    # Transaction seq -> history index of the op that committed it (its completion, or
    # the invoke of a write settled after the run), for pointing at evidence.
    txn_index: dict[int, int] = field(default_factory=dict)
    # Writes whose acknowledgement the server's final log contradicts.
    violations: list[Violation] = field(default_factory=list)


def is_monitor_event(op: Op) -> bool:
    return (isinstance(op.process, str) and op.type == "info" and op.f in EVENTS
            and isinstance(op.value, dict))


def read_streams(ops: list[Op]) -> list[dict[str, Any]]:
    """Each monitoring client's events in arrival order; every event keeps the
    ``index`` of its history entry, which the checker ignores and reports use."""
    streams: dict[str, list[dict[str, Any]]] = {}
    for op in ops:
        if is_monitor_event(op):
            streams.setdefault(str(op.process), []).append(
                {**op.value, "type": op.f, "index": op.index})
    return [{"client": c, "events": evs} for c, evs in streams.items()]


def read_input(ops: list[Op], table: str) -> MonitorInput:
    """The write history (indeterminate writes settled by the final read) and the
    clients' streams.  Problems that make the writes uncertain become notes; the
    checker then finds the history incomplete and says so."""
    initial: dict[str, Any] = {}
    schema: dict[str, Any] | None = None
    acked: list[dict[str, Any]] = []  # writes the server acknowledged as committed
    unknown: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    final: dict[str, Any] | None = None
    pending: dict[int | str, Op] = {}
    for op in ops:
        if op.f == SETUP and op.type == "ok":
            initial = (op.value or {}).get("initial") or {}
            schema = (op.value or {}).get("schema")
        elif op.f == FINAL_READ and op.type == "ok":
            final = op.value
        elif op.f == TXN and isinstance(op.process, int):
            if op.type == "invoke":
                pending[op.process] = op
                continue
            inv = pending.pop(op.process, None)
            if inv is None:
                continue
            if op.type == "ok":
                acked.append({**_claim(inv), "value": op.value, "done": op.index})
            elif op.type == "fail":
                refused.append({**_claim(inv), "done": op.index})
            else:
                unknown.append(_claim(inv))
    unknown += [_claim(inv) for inv in pending.values()]  # never completed
    notes: list[str] = []
    committed = set(final.get("log") or []) if final is not None else None
    known, txn_index, violations = check_acknowledged(acked, refused, committed)
    if final is not None and committed is not None:
        txns, problems = resolve_unknown(initial.get(table, {}), known, unknown + refused,
                                         int(final["clock"]), final.get("rows") or {},
                                         committed, table=table)
        notes += problems
        for x in unknown + refused:
            if x["seq"] not in txn_index and x["token"] in committed:
                txn_index[x["seq"]] = x["index"]
    else:
        txns = [known[s] for s in sorted(known)]
        notes.append("could not read the final state: indeterminate writes unresolved")
    if unknown:
        notes.append(f"{len(unknown)} writes had no definite reply; "
                     f"{len(txns) - len(known)} of them committed")
    return MonitorInput({"initial": initial, "txns": txns}, read_streams(ops), schema,
                        len(unknown), notes, txn_index, violations)


def check_acknowledged(acked: list[dict[str, Any]], refused: list[dict[str, Any]],
                       committed: set[int] | None,
                       ) -> tuple[dict[int, dict[str, Any]], dict[int, int], list[Violation]]:
    """The acknowledged writes the write history may trust, by transaction number, and
    the ``acknowledged`` violations: a write acknowledged but absent from the server's
    log of committed writes (a faked ack, or a commit lost afterwards), two writes
    acknowledged as the same transaction (the clock is a compare-and-set, so one of
    them is a lie), a refused write that committed.  Without the log (``committed`` is
    None) only the second can be seen.  A distrusted write is left out of the history,
    so it can neither hide the write that really is that transaction nor make the
    monitors look wrong for not showing it."""
    known: dict[int, dict[str, Any]] = {}
    txn_index: dict[int, int] = {}
    by_seq: dict[int, dict[str, Any]] = {}
    out: list[Violation] = []

    def bad(x: dict[str, Any], message: str) -> None:
        out.append(Violation(ACKNOWLEDGED, f"writer process {x['process']}", -1, message,
                             index=x.get("done", x["index"])))

    for x in acked:
        seq, token = x["seq"], x["token"]
        if committed is not None and token not in committed:
            bad(x, f"write {token} was acknowledged as transaction {seq} but never "
                   "committed: its token is not in the server's final write log")
        elif seq in by_seq:
            bad(x, f"writes {by_seq[seq]['token']} and {token} were both acknowledged as "
                   f"transaction {seq}; only one can have moved the clock to {seq}")
        else:
            by_seq[seq] = x
            known[seq] = x["value"]
            txn_index[seq] = x["done"]
    for x in refused:
        if committed is not None and x["token"] in committed:
            bad(x, f"write {x['token']} was refused (its wait on clock {x['seq'] - 1} "
                   "failed) but committed: its token is in the server's final write log")
    return known, txn_index, out


def _claim(inv: Op) -> dict[str, Any]:
    """An unanswered or refused write: if it committed, it is transaction clock + 1."""
    v = inv.value
    return {"seq": v["clock"] + 1, "token": v["token"], "plan": v["plan"],
            "index": inv.index, "process": inv.process}


def resolve_unknown(initial: dict[str, dict[str, Any]], known: dict[int, dict[str, Any]],
                    unknown: list[dict[str, Any]], final_clock: int,
                    final_rows: dict[str, dict[str, Any]],
                    committed: set[int] | None = None, table: str = "Item",
                    ) -> tuple[list[dict[str, Any]], list[str]]:
    """Complete the write history with the indeterminate writes that did commit.

    Transaction n committed iff the clock reached n; if no write with a reply is n, it
    is the indeterminate write that claimed n and whose token is in the ``committed``
    log (when given; without the log several claimants cannot be told apart).  Its
    effects follow from the state before it (an update or delete counts only if the
    row was there), and a row it inserted is found by its unique name in the final
    table: no writer knew its uuid, so nothing touched it later.  Returns the txns
    1..final_clock and problems.
    """
    state = {u: dict(r) for u, r in initial.items()}
    by_name = {r.get("name"): u for u, r in final_rows.items()}
    txns: list[dict[str, Any]] = []
    problems: list[str] = []
    for seq in range(1, final_clock + 1):
        if seq in known:
            txn = known[seq]
        else:
            cands = [x for x in unknown if x["seq"] == seq and
                     (committed is None or x.get("token") in committed) and
                     all(row["name"] in by_name for kind, _, row in x["plan"]
                         if kind == "insert")]
            if len(cands) != 1:
                problems.append(f"transaction {seq}: {len(cands)} candidate writes "
                                "(lost replies cannot be told apart)")
                break
            changes: dict[str, Any] = {}
            for kind, u, row in cands[0]["plan"]:
                if kind == "insert":
                    changes[by_name[row["name"]]] = row
                elif u in state:
                    changes[u] = row if kind == "update" else None
            txn = {"seq": seq, "changes": {table: changes}}
        for u, r in txn["changes"].get(table, {}).items():
            if r is None:
                state.pop(u, None)
            else:
                state[u] = r
        txns.append(txn)
    return txns, problems
