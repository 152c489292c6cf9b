"""The monitor workload's OVSDB messages and the reading of their replies (pure).

Data: ``Item`` rows (``name``, ``value``, ``tag``) of ``harness/schemas/crucible.ovsschema``
and one clock row in ``Cell`` (``key == "clock"``).  Every write transaction is::

    [wait Cell clock value == c, update Cell clock value = c + 1,
     mutate Cell txnlog elems += token, <1-2 Item ops>]

a compare-and-set on the clock (a writer that loses the race reads the clock again and
retries), so transaction n is the one that moved the clock to n, and every monitor
update names the transaction it brings (the clock row is in every monitor).  Item
values are tokens no other write uses, so a row value names its writer; the
``txnlog`` row collects the token of every committed write, so lost replies can be
settled exactly after the run.
"""

from __future__ import annotations

from typing import Any

from harness.workloads.monitor.plan import CLOCK_KEY, CLOCK_TABLE, TABLE, Planned

COLUMNS = {CLOCK_TABLE: ["key", "value"], TABLE: ["name", "value", "tag"]}
CLOCK_WHERE = [["key", "==", CLOCK_KEY]]
LOG_WHERE = [["key", "==", "txnlog"]]  # monitors do not watch it
# The clock, Item rows by uuid, the tokens of committed writes: read at the end.
Final = tuple[int, dict[str, dict[str, Any]], set[int]]


def requests(cond: list[Any]) -> dict[str, Any]:
    """A monitor request: the clock row and the Item rows matching ``cond``."""
    return {CLOCK_TABLE: [{"columns": COLUMNS[CLOCK_TABLE], "where": CLOCK_WHERE}],
            TABLE: [{"columns": COLUMNS[TABLE], "where": cond}]}


def conds(cond: list[Any]) -> dict[str, list[Any]]:
    """The condition per monitored table, as the checker reads it."""
    return {CLOCK_TABLE: CLOCK_WHERE, TABLE: cond}


def setup_ops(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The clock at 0, the empty write log and the initial rows, on a fresh database
    only (the wait fails if the clock row exists)."""
    return [
        {"op": "wait", "table": CLOCK_TABLE, "where": CLOCK_WHERE, "columns": ["key"],
         "until": "==", "rows": [], "timeout": 0},
        {"op": "insert", "table": CLOCK_TABLE, "row": {"key": CLOCK_KEY, "value": 0}},
        {"op": "insert", "table": CLOCK_TABLE, "row": {"key": LOG_WHERE[0][2]}},
        *({"op": "insert", "table": TABLE, "row": r} for r in rows)]


def setup_initial(rows: list[dict[str, Any]], result: list[Any]) -> dict[str, Any]:
    """The state before transaction 1, from the set-up's reply."""
    clock_uuid = result[1]["uuid"][1]
    items = {res["uuid"][1]: r for r, res in zip(rows, result[3:], strict=True)}
    return {CLOCK_TABLE: {clock_uuid: {"key": CLOCK_KEY, "value": 0}}, TABLE: items}


def read_clock_ops() -> list[dict[str, Any]]:
    return [{"op": "select", "table": CLOCK_TABLE, "where": CLOCK_WHERE,
             "columns": ["value"]}]


def txn_ops(plan: list[Planned], clock: int, token: int) -> list[dict[str, Any]]:
    """The clock is a compare-and-set: a transaction commits only as number clock + 1,
    so even a write whose reply is lost has a known place if it committed."""
    ops: list[dict[str, Any]] = [
        {"op": "wait", "table": CLOCK_TABLE, "where": CLOCK_WHERE, "columns": ["value"],
         "until": "==", "rows": [{"value": clock}], "timeout": 0},
        {"op": "update", "table": CLOCK_TABLE, "where": CLOCK_WHERE,
         "row": {"value": clock + 1}},
        {"op": "mutate", "table": CLOCK_TABLE, "where": LOG_WHERE,
         "mutations": [["elems", "insert", ["set", [token]]]]}]
    for kind, u, row in plan:
        if kind == "insert":
            ops.append({"op": "insert", "table": TABLE, "row": row, "uuid-name": u})
        elif kind == "update":
            ops.append({"op": "update", "table": TABLE, "where": [["_uuid", "==", ["uuid", u]]],
                        "row": row})
        else:
            ops.append({"op": "delete", "table": TABLE, "where": [["_uuid", "==", ["uuid", u]]]})
    return ops


def txn_changes(plan: list[Planned], result: list[Any],
                rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What a committed write changed (uuid -> full row, None = deleted), updating
    ``rows``, the live rows as far as writers know."""
    changes: dict[str, Any] = {}
    for (kind, u, row), res in zip(plan, result[3:], strict=False):
        if kind == "insert":
            uid = res["uuid"][1]
            changes[uid] = row
            rows[uid] = row
        elif res.get("count") == 1:
            changes[u] = row if kind == "update" else None
            if kind == "update":
                rows[u] = row
            else:
                rows.pop(u, None)
        else:
            rows.pop(u, None)  # another writer deleted it first
    return changes


def final_read_ops() -> list[dict[str, Any]]:
    return [
        {"op": "select", "table": CLOCK_TABLE, "where": CLOCK_WHERE, "columns": ["value"]},
        {"op": "select", "table": TABLE, "where": [], "columns": ["_uuid", *COLUMNS[TABLE]]},
        {"op": "select", "table": CLOCK_TABLE, "where": LOG_WHERE, "columns": ["elems"]}]


def final_from_reply(res: list[Any]) -> Final:
    rows = {r["_uuid"][1]: {c: r[c] for c in COLUMNS[TABLE]} for r in res[1]["rows"]}
    elems = res[2]["rows"][0]["elems"]
    log = set(elems[1]) if isinstance(elems, list) and elems[:1] == ["set"] else {elems}
    return int(res[0]["rows"][0]["value"]), rows, log


def clock_of(updates: Any) -> int | None:
    """The clock value a table-updates2 brings, if it touches the clock row."""
    for ch in (updates or {}).get(CLOCK_TABLE, {}).values():
        for op in ("initial", "insert"):
            if op in ch:
                return int(ch[op].get("value", 0))
        if "value" in (ch.get("modify") or {}):
            return int(ch["modify"]["value"])
    return None
