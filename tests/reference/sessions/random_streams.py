"""Hypothesis strategies for random transaction streams over any OVSDB schema.

A stream is a session (see ``__init__``): connection 1 attaches a ``monitor_cond`` on
every table, connection 2 a v1 ``monitor`` and connection 4 a ``monitor_cond_since`` on
a few tables, connection 3 a conditional ``monitor_cond`` whose condition changes half
way; then random transactions run, mostly on connection 0, sometimes on a monitoring
connection.  Rows are inserted with explicit UUIDs drawn from a fixed pool per
table, so references, where-clauses on ``_uuid`` and dangling references mean the
same thing on both servers.  Values mostly respect the column's type and constraints
(so commits happen) and sometimes break them (so the errors get compared too).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

from tests.reference.sessions import Step, req

POOL = 4  # explicit UUIDs per table
STRINGS = ["", "a", "b", "abc", "x y", "\u00e9t\u00e9", "0123456789"]


class SchemaInfo:
    def __init__(self, path: str | Path) -> None:
        self.schema = orjson.loads(Path(path).read_bytes())
        self.name: str = self.schema["name"]
        self.tables: dict[str, dict] = self.schema["tables"]
        self.pool = {t: [str(uuid.uuid5(uuid.NAMESPACE_OID, f"{self.name}/{t}/{i}"))
                         for i in range(POOL)] for t in self.tables}

    def columns(self, table: str) -> dict[str, dict]:
        return self.tables[table]["columns"]


def _base(t: Any) -> dict:
    return {"type": t} if isinstance(t, str) else t


def _col_type(col: dict) -> tuple[dict, dict | None, int, int]:
    t = col["type"]
    if isinstance(t, str):
        return {"type": t}, None, 1, 1
    key = _base(t["key"])
    value = _base(t["value"]) if "value" in t else None
    mn = t.get("min", 1)
    mx = t.get("max", 1)
    return key, value, mn, (1 << 30 if mx == "unlimited" else mx)


@st.composite
def atom(draw: st.DrawFn, info: SchemaInfo, base: dict, valid: bool = True) -> Any:
    kind = base["type"]
    if "enum" in base and (valid or draw(st.booleans())):
        enum = base["enum"]
        choices = enum[1] if isinstance(enum, list) and enum[0] == "set" else [enum]
        return draw(st.sampled_from(choices))
    if kind == "integer":
        lo = base.get("minInteger", -(1 << 63))
        hi = base.get("maxInteger", (1 << 63) - 1)
        if not valid:
            return draw(st.sampled_from([max(lo - 1, -(1 << 63)), min(hi + 1, (1 << 63) - 1),
                                         1 << 62]))
        a, b = max(lo, -50), min(hi, 50)
        if a > b:  # a range far from zero
            a, b = lo, min(hi, lo + 100)
        return draw(st.integers(a, b))
    if kind == "real":
        lo = base.get("minReal", -1e300)
        hi = base.get("maxReal", 1e300)
        if not valid:
            return draw(st.sampled_from([lo - 1.0, hi + 1.0]))
        return draw(st.sampled_from([float(x) for x in (lo, hi, 0.5, 1.25, -2.0)
                                     if lo <= x <= hi]))
    if kind == "boolean":
        return draw(st.booleans())
    if kind == "string":
        s = draw(st.sampled_from(STRINGS))
        lo = base.get("minLength", 0)
        hi = base.get("maxLength", 1 << 30)
        if valid and not lo <= len(s) <= hi:
            s = "s" * max(lo, 1) if hi >= max(lo, 1) else ""
        return s
    if kind == "uuid":
        ref = base.get("refTable")
        pool = info.pool.get(ref) if ref else info.pool[next(iter(info.pool))]
        u = draw(st.sampled_from(pool))
        return ["uuid", u]
    raise AssertionError(kind)


@st.composite
def datum(draw: st.DrawFn, info: SchemaInfo, col: dict, valid: bool = True) -> Any:
    key, value, mn, mx = _col_type(col)
    if mn == 1 and mx == 1 and value is None:
        return draw(atom(info, key, valid))
    hi = min(mx, 3) if valid else min(mx + 1, 4)
    n = draw(st.integers(mn if valid else 0, max(hi, mn)))
    if value is None:
        elems = [draw(atom(info, key, valid)) for _ in range(n)]
        if valid:  # duplicates are a syntax error: keep them for the invalid cases
            elems = _unique(elems, lambda x: x)
        return ["set", elems]
    pairs = [[draw(atom(info, key, valid)), draw(atom(info, value, valid))] for _ in range(n)]
    if valid:
        pairs = _unique(pairs, lambda p: p[0])
    return ["map", pairs]


def _unique(items: list, key) -> list:
    seen: set[bytes] = set()
    out = []
    for x in items:
        k = orjson.dumps(key(x))
        if k not in seen:
            seen.add(k)
            out.append(x)
    return out


@st.composite
def row(draw: st.DrawFn, info: SchemaInfo, table: str, valid: bool) -> dict:
    cols = info.columns(table)
    names = draw(st.lists(st.sampled_from(sorted(cols)), max_size=4, unique=True))
    return {c: draw(datum(info, cols[c], valid)) for c in names}


@st.composite
def where(draw: st.DrawFn, info: SchemaInfo, table: str) -> list:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return []
    if choice == 1:
        return [["_uuid", "==", ["uuid", draw(st.sampled_from(info.pool[table]))]]]
    cols = info.columns(table)
    c = draw(st.sampled_from(sorted(cols)))
    key, value, mn, mx = _col_type(cols[c])
    scalar = mn == 1 and mx == 1 and value is None
    if scalar:
        fns = ["==", "!="] + (["<", "<=", ">", ">="]
                              if key["type"] in ("integer", "real") else [])
    else:
        fns = ["==", "!=", "includes", "excludes"]
    return [[c, draw(st.sampled_from(fns)), draw(datum(info, cols[c]))]]


@st.composite
def mutation(draw: st.DrawFn, info: SchemaInfo, table: str) -> list | None:
    cols = info.columns(table)
    c = draw(st.sampled_from(sorted(cols)))
    key, value, mn, mx = _col_type(cols[c])
    if value is None and key["type"] in ("integer", "real") and draw(st.booleans()):
        op = draw(st.sampled_from(["+=", "-=", "*=", "/=", "%="] if key["type"] == "integer"
                                  else ["+=", "-=", "*=", "/="]))
        arg = draw(st.integers(-3, 3)) if key["type"] == "integer" else \
            draw(st.sampled_from([0.5, 2.0, -1.0]))
        return [c, op, arg]
    if mn == 1 and mx == 1 and value is None:
        return None  # only arithmetic applies to scalars
    op = draw(st.sampled_from(["insert", "delete"]))
    arg = draw(datum(info, cols[c]))
    if op == "delete" and value is not None and draw(st.booleans()):
        arg = ["set", [draw(atom(info, key))]]  # delete map entries by key
    return [c, op, arg]


@st.composite
def operation(draw: st.DrawFn, info: SchemaInfo) -> dict:
    table = draw(st.sampled_from(sorted(info.tables)))
    kind = draw(st.sampled_from(["insert", "insert", "update", "mutate", "delete",
                                 "select", "wait"]))
    valid = draw(st.integers(0, 9)) > 0
    if kind == "insert":
        return {"op": "insert", "table": table, "uuid": draw(st.sampled_from(info.pool[table])),
                "row": draw(row(info, table, valid))}
    if kind == "update":
        r = draw(row(info, table, valid))
        return {"op": "update", "table": table, "where": draw(where(info, table)), "row": r}
    if kind == "mutate":
        muts = [m for m in (draw(mutation(info, table)) for _ in range(draw(st.integers(1, 2))))
                if m is not None]
        return {"op": "mutate", "table": table, "where": draw(where(info, table)),
                "mutations": muts}
    if kind == "delete":
        return {"op": "delete", "table": table, "where": draw(where(info, table))}
    if kind == "wait":
        return {"op": "wait", "table": table, "where": draw(where(info, table)),
                "columns": ["_uuid"], "until": draw(st.sampled_from(["==", "!="])),
                "rows": [], "timeout": 0}
    return {"op": "select", "table": table, "where": draw(where(info, table))}


@st.composite
def stream(draw: st.DrawFn, info: SchemaInfo, min_txns: int = 5,
           max_txns: int = 15) -> list[Step]:
    """A session: monitors attached, then min_txns..max_txns random transactions."""
    tables = sorted(info.tables)
    steps: list[Step] = [
        req("mc", "monitor_cond", info.name, "all", {t: {} for t in tables}, c=1),
        req("m1", "monitor", info.name, "v1", {t: {} for t in tables[:3]}, c=2),
        req("ms", "monitor_cond_since", info.name, "since", {t: {} for t in tables[-3:]},
            "00000000-0000-0000-0000-000000000000", c=4),
    ]
    # A conditional monitor on two columns of two tables (its own column set, so that
    # ovsdb-server does not share it with the unconditional one: sharing monitors with
    # different conditions crashes 3.1), whose condition changes half-way.
    cond_tables = tables[:2]

    def conds() -> dict:
        return {t: {"columns": sorted(info.columns(t))[:2], "where": draw(where(info, t))}
                for t in cond_tables}
    steps.append(req("cc", "monitor_cond", info.name, "cond", conds(), c=3))
    n_txns = draw(st.integers(min_txns, max_txns))
    for n in range(n_txns):
        ops = [draw(operation(info)) for _ in range(draw(st.integers(1, 3)))]
        # Mostly from the plain client; sometimes from a monitoring one, whose own
        # updates must then come before the reply.
        c = draw(st.sampled_from([0, 0, 1, 3]))
        steps.append(req(n, "transact", info.name, *ops, c=c))
        if n == n_txns // 2:
            new = {t: [{"where": v["where"]}] for t, v in conds().items()}
            steps.append(req("chg", "monitor_cond_change", "cond", "cond2", new, c=3))
    return steps


def count_transactions(steps: list[Step]) -> int:
    return sum(1 for s in steps if s.get("send", {}).get("method") == "transact")


@st.composite
def lock_stream(draw: st.DrawFn, db: str, max_steps: int = 25) -> list[Step]:
    """Random lock, steal and unlock requests (and transactions asserting locks) from
    three connections on two lock names; notifications land in the step transcripts."""
    steps: list[Step] = []
    for n in range(draw(st.integers(5, max_steps))):
        c = draw(st.integers(0, 2))
        name = draw(st.sampled_from(["L", "M"]))
        # (No disconnects: the server notices one whenever it reads the EOF, so the
        # "locked" it causes on another connection has no fixed place in a transcript.)
        kind = draw(st.sampled_from(["lock", "lock", "steal", "unlock", "unlock", "assert"]))
        if kind == "assert":
            steps.append(req(n, "transact", db, {"op": "assert", "lock": name},
                             {"op": "comment", "comment": f"by {c}"}, c=c))
        else:
            steps.append(req(n, kind, name, c=c))
    return steps
