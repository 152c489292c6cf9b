"""Wire values, rows and monitor conditions, as the monitor checker needs them: OVSDB
sets and maps, schema column kinds and defaults, update2 ``modify`` diffs, and the ORed
where-clauses of ``monitor_cond`` (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import orjson

Row = dict[str, Any]
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def _key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _atoms(value: Any) -> list[Any]:
    """A wire set (or a bare atom standing for a one-element set) as a list of atoms."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        return list(value[1])
    return [value]


def _pairs(value: Any) -> list[list[Any]]:
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return [list(p) for p in value[1]]
    return []


def _as_set(atoms: list[Any]) -> Any:
    return atoms[0] if len(atoms) == 1 else ["set", atoms]


class Columns:
    """What the checker needs from a schema: column kinds (scalar/set/map) and defaults.

    Without a schema every column is a scalar and nothing is defaulted, which is right
    for the workloads' integer and string columns.
    """

    def __init__(self, schema: dict[str, Any] | None = None) -> None:
        self.kind: dict[tuple[str, str], str] = {}
        self.default: dict[tuple[str, str], Any] = {}
        for tname, table in (schema or {}).get("tables", {}).items():
            for cname, col in table.get("columns", {}).items():
                t = col["type"]
                if isinstance(t, dict):
                    base = t.get("key")
                    lo, hi = t.get("min", 1), t.get("max", 1)
                    if "value" in t:
                        kind, default = "map", ["map", []]
                    elif hi == "unlimited" or hi > 1:
                        kind, default = "set", ["set", []]
                    elif lo == 0:
                        kind, default = "optional", ["set", []]
                    else:
                        kind, default = "scalar", _scalar_default(base)
                else:
                    kind, default = "scalar", _scalar_default(t)
                self.kind[tname, cname] = kind
                self.default[tname, cname] = default

    def normalize(self, table: str, row: Row) -> Row:
        """Drop columns at their default: initial/insert omit them on the wire."""
        return {c: v for c, v in row.items()
                if (table, c) not in self.default or
                _key(_canon(v)) != _key(_canon(self.default[table, c]))}

    def apply_diff(self, table: str, row: Row, diff: Row) -> Row:
        """Apply an update2 ``modify`` diff to a full row."""
        new = dict(row)
        for col, d in diff.items():
            kind = self.kind.get((table, col), "scalar")
            if kind == "set":
                cur = {_key(a): a for a in _atoms(row.get(col, ["set", []]))}
                for a in _atoms(d):  # the diff is the symmetric difference
                    k = _key(a)
                    if k in cur:
                        del cur[k]
                    else:
                        cur[k] = a
                new[col] = _as_set(list(cur.values()))
            elif kind == "map":
                cur_map = {_key(k): (k, v) for k, v in _pairs(row.get(col, ["map", []]))}
                for k, v in _pairs(d):
                    kk = _key(k)
                    if kk in cur_map and _key(cur_map[kk][1]) == _key(v):
                        del cur_map[kk]  # same key and value: removed
                    else:
                        cur_map[kk] = (k, v)  # new key or changed value
                new[col] = ["map", [list(p) for p in cur_map.values()]]
            else:
                new[col] = d
        return self.normalize(table, new)


def _scalar_default(base: Any) -> Any:
    name = base if isinstance(base, str) else (base or {}).get("type", "string")
    return {"integer": 0, "real": 0.0, "boolean": False, "string": "",
            "uuid": ["uuid", ZERO_UUID]}.get(name, "")


def _canon(value: Any) -> Any:
    """Order-free form of a wire value, for comparing sets and maps."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        atoms = sorted(value[1], key=_key)
        return atoms[0] if len(atoms) == 1 else ["set", atoms]
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return ["map", sorted(value[1], key=_key)]
    return value


def row_key(row: Row | None) -> bytes | None:
    if row is None:
        return None
    return _key({c: _canon(v) for c, v in row.items()})


def _cmp_atom(a: Any, fn: str, b: Any) -> bool:
    if fn == "==":
        return _key(a) == _key(b)
    if fn == "!=":
        return _key(a) != _key(b)
    try:
        if fn == "<":
            return a < b
        if fn == "<=":
            return a <= b
        if fn == ">":
            return a > b
        if fn == ">=":
            return a >= b
    except TypeError:
        return False
    raise ValueError(f"unknown condition function {fn!r}")


def clause_matches(row: Row, clause: Any, uuid: str | None = None) -> bool:
    if clause is True or clause is False:
        return clause
    col, fn, value = clause
    have = ["uuid", uuid] if col == "_uuid" else row.get(col)
    if fn in ("includes", "excludes"):
        mine = {_key(a) for a in _atoms(have)} if have is not None else set()
        want = {_key(a) for a in _atoms(value)}
        # As ovsdb-server 3.1: "includes" holds when every argument element is in the
        # column, "excludes" when none is (not merely when some is missing).
        return want <= mine if fn == "includes" else not want & mine
    if fn in ("==", "!=") and (isinstance(have, list) and have and have[0] in ("set", "map")):
        same = _key(_canon(have)) == _key(_canon(value))
        return same if fn == "==" else not same
    atoms = _atoms(have) if have is not None else []
    if len(atoms) != 1:
        # An ordering function on an empty optional column is false (OVS does this).
        return fn == "!=" if fn in ("==", "!=") else False
    return _cmp_atom(atoms[0], fn, value)


def matches(row: Row, clauses: list[Any] | None, uuid: str | None = None) -> bool:
    """Monitor conditions: clauses are ORed; an empty or missing list means all rows."""
    if not clauses:
        return True
    return any(clause_matches(row, c, uuid) for c in clauses)



def show(row: Row | None) -> str:
    """A row for a message: sorted-key JSON, or "absent"."""
    return "absent" if row is None else orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode()
