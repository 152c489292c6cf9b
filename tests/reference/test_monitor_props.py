"""Property tests of the pure monitor core.

Random transaction streams over a two-table schema, random clients (update, update2,
update3; random columns and conditions), random condition changes, backlogged
(stuck) clients and reconnects with monitor_cond_since.  After every step:

- every client's replica, built only from the bytes it received, equals the
  condition-filtered database projected on its columns (conditions are evaluated here
  by an independent evaluator, not by the core's);
- the shared engine (all clients in one) and per-session engines (one engine per
  client: no sharing at all) deliver byte-identical messages to each client;
- a resumed client gets found=true exactly when its last-txn-id is among the last
  ``HIST`` transactions, and then only what it missed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference.data.datum import Datum
from reference.data.schema import parse_schema
from reference.monitor import MonitorEngine
from reference.monitor import compose as compose_mod
from simulation.monitor_db import SimDB
from simulation.monitor_replica import Replica

SCHEMA = parse_schema({
    "name": "P", "version": "1.0.0",
    "tables": {
        "T": {"columns": {
            "i": {"type": "integer"},
            "o": {"type": {"key": "integer", "min": 0, "max": 1}},
            "s": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
            "m": {"type": {"key": "integer", "value": "integer", "min": 0,
                           "max": "unlimited"}},
            "name": {"type": "string"}}},
        "U": {"columns": {
            "k": {"type": "integer"},
            "tags": {"type": {"key": "string", "min": 0, "max": "unlimited"}}}},
    },
})
HIST = 4
T_UUIDS = [uuid.UUID(int=i + 1) for i in range(4)]
U_UUIDS = [uuid.UUID(int=i + 100) for i in range(3)]
T_COLS = ["i", "o", "s", "m", "name", "_version"]
U_COLS = ["k", "tags", "_version"]

# -- strategies -----------------------------------------------------------------------

small = st.integers(0, 2)
int_set = st.lists(small, max_size=3, unique=True)


def _set_json(xs):
    return xs[0] if len(xs) == 1 else ["set", list(xs)]


t_clause = st.one_of(
    st.just(True), st.just(False),
    st.tuples(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), small).map(
        lambda t: ["i", t[0], t[1]]),
    st.tuples(st.sampled_from(["==", "!="]),
              st.lists(small, max_size=1)).map(lambda t: ["o", t[0], ["set", t[1]]]),
    st.tuples(st.sampled_from(["<", ">="]), small).map(lambda t: ["o", t[0], t[1]]),
    st.tuples(st.sampled_from(["includes", "excludes", "==", "!="]), int_set).map(
        lambda t: ["s", t[0], _set_json(t[1])]),
    st.tuples(st.sampled_from(["includes", "excludes"]), small, small).map(
        lambda t: ["m", t[0], ["map", [[t[1], t[2]]]]]),
    st.sampled_from(["a", "b"]).map(lambda n: ["name", "==", n]),
)
u_clause = st.one_of(
    st.tuples(st.sampled_from(["==", "<"]), small).map(lambda t: ["k", t[0], t[1]]),
    st.sampled_from(["x", "y"]).map(lambda v: ["tags", "includes", v]),
)
t_where = st.lists(t_clause, max_size=3)
u_where = st.lists(u_clause, max_size=2)

t_row = st.fixed_dictionaries({}, optional={
    "i": small.map(Datum.atom),
    "o": st.lists(small, max_size=1).map(Datum.set),
    "s": int_set.map(Datum.set),
    "m": st.dictionaries(small, small, max_size=3).map(Datum.map),
    "name": st.sampled_from(["a", "b", "c"]).map(Datum.atom)})
u_row = st.fixed_dictionaries({}, optional={
    "k": small.map(Datum.atom),
    "tags": st.lists(st.sampled_from(["x", "y", "z"]), unique=True).map(Datum.set)})

txn = st.fixed_dictionaries({
    "T": st.dictionaries(st.sampled_from(T_UUIDS), st.one_of(st.none(), t_row), max_size=3),
    "U": st.dictionaries(st.sampled_from(U_UUIDS), st.one_of(st.none(), u_row), max_size=2),
})


@st.composite
def client_spec(draw):
    kind = draw(st.sampled_from(["monitor", "monitor_cond", "monitor_cond_since"]))
    tables = draw(st.sampled_from([("T",), ("U",), ("T", "U")]))
    spec = {}
    for t in tables:
        cols = T_COLS if t == "T" else U_COLS
        chosen = draw(st.one_of(st.none(), st.lists(st.sampled_from(cols), min_size=1,
                                                    unique=True)))
        where = None
        if kind != "monitor":
            where = draw(t_where if t == "T" else u_where)
        spec[t] = (chosen, where)
    return kind, spec


step = st.one_of(
    txn.map(lambda w: ("txn", w)),
    txn.map(lambda w: ("txn", w)),
    st.tuples(st.integers(0, 4), t_where).map(lambda t: ("cond", t[0], "T", t[1])),
    st.tuples(st.integers(0, 4), u_where).map(lambda t: ("cond", t[0], "U", t[1])),
    st.integers(0, 4).map(lambda c: ("hold", c)),
    st.integers(0, 4).map(lambda c: ("release", c)),
    st.integers(0, 4).map(lambda c: ("reconnect", c)),
)

# -- an independent condition evaluator --------------------------------------------------


def _arg(j) -> Datum:
    if isinstance(j, list) and j and j[0] == "set":
        return Datum.set(j[1])
    if isinstance(j, list) and j and j[0] == "map":
        return Datum.map([tuple(p) for p in j[1]])
    return Datum.atom(j)


def _pairs(d: Datum) -> set:
    return set(zip(d.keys, d.values, strict=True)) if d.values is not None else set(d.keys)


def clause_holds(clause, row) -> bool:
    if clause is True or clause is False:
        return clause
    col, fn, j = clause
    have, arg = row[col], _arg(j)
    if fn == "==":
        return have == arg
    if fn == "!=":
        return have != arg
    if fn == "includes":
        return _pairs(arg) <= _pairs(have)
    if fn == "excludes":
        return not (_pairs(arg) & _pairs(have))
    if len(have.keys) != 1 or len(arg.keys) != 1:
        return False
    a, b = have.keys[0], arg.keys[0]
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[fn]


def where_holds(where, row) -> bool:
    return where is None or where == [] or any(clause_holds(c, row) for c in where)


# -- clients -----------------------------------------------------------------------------


@dataclass
class Client:
    idx: int
    kind: str
    spec: dict                           # table -> (columns or None, where)
    gen: int = 0
    held: bool = False
    last: str | None = None
    replica: Replica | None = None
    got_shared: list = field(default_factory=list)
    got_solo: list = field(default_factory=list)

    @property
    def sid(self):
        return (self.idx, self.gen)

    @property
    def mon_id(self):
        return ["mon", self.idx % 2]     # ids repeat across clients: sharing by id value

    def columns(self, t):
        cols = self.spec[t][0]
        return tuple(cols) if cols is not None else tuple(
            c for c in SCHEMA.tables[t].columns if c != "_uuid")

    def requests(self):
        out = {}
        for t, (cols, where) in self.spec.items():
            req = {}
            if cols is not None:
                req["columns"] = cols
            if where is not None:
                req["where"] = where
            out[t] = [req] if self.kind != "monitor" else req
        return out

    def expected(self, db: SimDB):
        return {t: {str(u): {c: row[c] for c in self.columns(t)}
                    for u, row in db.tables[t].items() if where_holds(self.spec[t][1], row)}
                for t in self.spec}

    def apply(self, data: bytes) -> None:
        msg = orjson.loads(data)
        method, params = msg["method"], msg["params"]
        assert params[0] == self.mon_id
        if method == "update3":
            self.last = params[1]
        self.replica.apply("update" if method == "update" else "update2", params[-1])


class World:
    def __init__(self, specs, hist=HIST):
        self.db = SimDB(SCHEMA)
        # Only the count bound applies here (the atoms bound has its own test).
        self.shared = MonitorEngine(SCHEMA, lambda: self.db, history_max_txns=hist,
                                    history_max_atoms=10**9)
        self.clients = [Client(i, kind, spec) for i, (kind, spec) in enumerate(specs)]
        self.solo = [MonitorEngine(SCHEMA, lambda: self.db, history_max_txns=hist,
                                   history_max_atoms=10**9)
                     for _ in self.clients]
        self.txn_ids: list[str] = []
        for c in self.clients:
            self.connect(c, None)

    def connect(self, c: Client, last):
        c.replica = c.replica or Replica(SCHEMA, {t: c.columns(t) for t in c.spec})
        args = (c.sid, c.mon_id, c.kind, c.requests())
        extra = (last or str(uuid.UUID(int=0)),) if c.kind == "monitor_cond_since" else ()
        r1 = orjson.dumps(self.shared.add(*args, *extra))
        r2 = orjson.dumps(self.solo[c.idx].add(*args, *extra))
        assert r1 == r2
        result = orjson.loads(r1)
        if c.kind == "monitor_cond_since":
            found, c.last, updates = result
            assert found == (last is not None and last in self.txn_ids[-HIST:]), \
                (last, self.txn_ids[-HIST:])
            if not found:
                c.replica.clear()
            c.replica.apply("update2", updates)
        else:
            c.replica.clear()
            c.replica.apply("update" if c.kind == "monitor" else "update2", result)

    def deliver(self, c: Client, shared: list[bytes], solo: list[bytes]) -> None:
        assert shared == solo
        for data in shared:
            c.apply(data)

    def step(self, s) -> None:
        if s[0] == "txn":
            changes = self.db.commit({t: dict(rows) for t, rows in s[1].items()})
            if not changes.tables:
                return
            self.txn_ids.append(str(changes.txn_id))
            per: dict = {}
            for d in self.shared.commit(changes):
                for sid in d.sessions:
                    per.setdefault(sid, []).append(d.data)
            for c in self.clients:
                solo = [d.data for d in self.solo[c.idx].commit(changes)]
                got = per.pop(c.sid, [])
                if c.held:
                    assert got == [] and solo == []
                self.deliver(c, got, solo)
            assert not per, f"deliveries to unknown sessions {per}"
            return
        c = self.clients[s[1] % len(self.clients)]
        if s[0] == "cond":
            table, where = s[2], s[3]
            if c.kind == "monitor" or table not in c.spec:
                return
            c.spec[table] = (c.spec[table][0], where)
            req = {table: [{"where": where}]}
            a = self.shared.change_condition(c.sid, c.mon_id, c.mon_id, req)
            b = self.solo[c.idx].change_condition(c.sid, c.mon_id, c.mon_id, req)
            self.deliver(c, a, b)
            if not a:
                # Nothing carried a new last-txn-id: the replica is now filtered by a
                # condition the old id never saw, so a correct client resumes from zero.
                c.last = None
        elif s[0] == "hold":
            c.held = True
            assert self.shared.set_backlogged(c.sid, True) == []
            self.solo[c.idx].set_backlogged(c.sid, True)
        elif s[0] == "release":
            c.held = False
            a = self.shared.set_backlogged(c.sid, False)
            b = self.solo[c.idx].set_backlogged(c.sid, False)
            self.deliver(c, a, b)
        elif s[0] == "reconnect":
            self.shared.drop_session(c.sid)
            self.solo[c.idx].drop_session(c.sid)
            c.gen += 1
            c.held = False
            self.connect(c, c.last if c.kind == "monitor_cond_since" else None)

    def check(self) -> None:
        for c in self.clients:
            if not c.held:
                assert c.replica.tables == c.expected(self.db), (c.kind, c.spec)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(client_spec(), min_size=1, max_size=5),
       steps=st.lists(step, max_size=25))
def test_replicas_track_filtered_database(specs, steps):
    world = World(specs)
    world.check()
    for s in steps:
        world.step(s)
        world.check()
    for c in world.clients:           # drain every stuck client: all converge
        if c.held:
            world.step(("release", c.idx))
    world.check()


def test_property_harness_catches_a_dropped_delete(monkeypatch):
    """Known-bad: a core that forgets rows leaving the condition must be caught."""
    real = compose_mod.classify

    def buggy(spec, base, om, nm, *rest):
        kind = real(spec, base, om, nm, *rest)
        return 0 if kind == compose_mod.DELETE and base == compose_mod.MODIFY else kind

    monkeypatch.setattr("reference.monitor.engine.classify", buggy)
    world = World([("monitor_cond", {"T": (None, [["i", "==", 1]])})])
    world.step(("txn", {"T": {T_UUIDS[0]: {"i": Datum.atom(1)}}}))
    world.check()
    world.step(("txn", {"T": {T_UUIDS[0]: {"i": Datum.atom(2)}}}))
    with pytest.raises(AssertionError):
        world.check()
