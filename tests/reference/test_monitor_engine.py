"""MonitorEngine: sharing, condition-indexed dispatch, snapshots, history bounds and the
stuck-client merge, checked by counting the work the core does (never by timing)."""

from __future__ import annotations

import random
import uuid

import orjson
import pytest

from reference.data import datum
from reference.data.condition import Clause
from reference.data.schema import parse_schema
from reference.monitor import MonitorEngine
from reference.monitor import engine as engine_mod
from reference.monitor.rows import n_atoms
from simulation.monitor_db import SimDB
from simulation.monitor_replica import Replica

SCHEMA = parse_schema({
    "name": "SB", "version": "1.0.0",
    "tables": {"Port": {"columns": {
        "name": {"type": "string"},
        "chassis": {"type": "string"},
        "tags": {"type": {"key": "string", "min": 0, "max": "unlimited"}},
        "counter": {"type": "integer"}}}},
})
A = datum.Datum.atom


def _uuid(i: int) -> uuid.UUID:
    return uuid.UUID(int=i + 1)


def _setup(n_rows: int, n_chassis: int):
    db = SimDB(SCHEMA)
    db_rows = {_uuid(i): {"name": A(f"p{i}"), "chassis": A(f"ch{i % n_chassis}"),
                          "tags": datum.Datum.set([f"t{i % n_chassis}", "all"])}
               for i in range(n_rows)}
    db.commit({"Port": db_rows})
    return db


class Counter:
    """Counts calls of ``owner.name`` (default: evaluating one condition clause)."""

    def __init__(self, monkeypatch, name="match", owner=Clause):
        self.n = 0
        real = getattr(owner, name)

        def counting(*a):
            self.n += 1
            return real(*a)
        monkeypatch.setattr(owner, name, counting)


def _deliveries_by_session(deliveries):
    out = {}
    for d in deliveries:
        for s in d.sessions:
            out.setdefault(s, []).append(d.data)
    return out


@pytest.mark.parametrize("fn, arg", [("==", lambda k: f"ch{k}"),
                                     ("includes", lambda k: f"t{k}")])
def test_dispatch_cost_follows_matching_conditions(monkeypatch, fn, arg):
    db = _setup(2000, 1000)
    eng = MonitorEngine(SCHEMA, lambda: db)
    col = "chassis" if fn == "==" else "tags"
    for k in range(1000):
        eng.add(k, "m", "monitor_cond", {"Port": [{"where": [[col, fn, arg(k)]]}]})
    calls = Counter(monkeypatch)
    changes = db.commit({"Port": {_uuid(7): {"counter": A(1)},
                                  _uuid(1007): {"counter": A(2)}}})
    got = _deliveries_by_session(eng.commit(changes))
    assert set(got) == {7}
    # Two rows of chassis 7, old and new version each: one candidate condition each.
    assert calls.n <= 4


def test_unindexable_conditions_fall_back_to_evaluation(monkeypatch):
    """The known-bad counterpart: '!=' cannot be indexed, so every condition is tried
    (this is what the index saves, and proves the counter above can see it)."""
    db = _setup(200, 100)
    eng = MonitorEngine(SCHEMA, lambda: db)
    for k in range(100):
        eng.add(k, "m", "monitor_cond", {"Port": [{"where": [["chassis", "!=", f"ch{k}"]]}]})
    calls = Counter(monkeypatch)
    eng.commit(db.commit({"Port": {_uuid(7): {"counter": A(1)}}}))
    assert calls.n >= 100


def test_same_condition_same_id_shares_one_delivery():
    db = _setup(10, 5)
    eng = MonitorEngine(SCHEMA, lambda: db)
    for s in range(20):
        eng.add(s, ["monid", "SB"], "monitor_cond",
                {"Port": [{"where": [["chassis", "==", "ch1"], ["chassis", "==", "ch2"]]}]})
    eng.add(99, "other", "monitor_cond",
            {"Port": [{"where": [["chassis", "==", "ch2"], ["chassis", "==", "ch1"]]}]})
    ds = eng.commit(db.commit({"Port": {_uuid(1): {"counter": A(5)}}}))
    assert sorted(len(d.sessions) for d in ds) == [1, 20]
    one, many = sorted(ds, key=lambda d: len(d.sessions))
    # Same body, only the monitor id differs.
    assert one.data.replace(b'"other"', b'["monid","SB"]') == many.data


def test_initial_snapshot_built_once_while_nothing_changes(monkeypatch):
    db = _setup(300, 10)
    # An explicit atoms bound: no database-wide atom count to muddle the scan count.
    eng = MonitorEngine(SCHEMA, lambda: db, history_max_atoms=10**6)
    rows = Counter(monkeypatch, "row_update", engine_mod)
    for target, req in ((3, {"Port": [{"where": [["chassis", "==", "ch3"]]}]}),  # row index
                        (4, {"Port": [{"where": [["chassis", "!=", "ch3"]]}]})):  # scan
        rows.n = 0
        replies = [orjson.dumps(eng.add((s, str(req)), "m", "monitor_cond", req))
                   for s in range(50)]
        n = len(orjson.loads(replies[0])["Port"])
        assert n in (30, 270) and rows.n == n and len(set(replies)) == 1
        eng.commit(db.commit({"Port": {_uuid(target): {"counter": A(rows.n)}}}))
        fresh = orjson.dumps(eng.add((50, str(req)), "m", "monitor_cond", req))
        # + 1: the commit's modify, composed once for the 50 members it concerns.
        assert rows.n == 2 * n + 1 and fresh != replies[0]


def test_cond_change_composed_once_per_distinct_change(monkeypatch):
    db = _setup(100, 10)
    eng = MonitorEngine(SCHEMA, lambda: db)
    for s in range(10):
        eng.add(s, "m", "monitor_cond", {"Port": [{"where": [["chassis", "==", "ch1"]]}]})
    rows = Counter(monkeypatch, "row_update", engine_mod)
    new = {"Port": [{"where": [["chassis", "==", "ch2"]]}]}
    out = [eng.change_condition(s, "m", "m2", new) for s in range(10)]
    assert rows.n == 20
    assert all(o == out[0] for o in out) and len(out[0]) == 1
    ups = orjson.loads(out[0][0])["params"][1]["Port"]
    assert sorted(next(iter(v)) for v in ups.values()) == ["delete"] * 10 + ["insert"] * 10


def test_history_bounded_by_count_and_atoms():
    db = _setup(4, 2)
    eng = MonitorEngine(SCHEMA, lambda: db, history_max_txns=3, history_max_atoms=10**6)
    ids = []
    for i in range(5):
        ch = db.commit({"Port": {_uuid(0): {"counter": A(i + 1)}}})
        ids.append(ch.txn_id)
        eng.commit(ch)
    assert len(eng.history) == 3
    req = {"Port": [{}]}
    found = [eng.add(("s", i), "m", "monitor_cond_since", req, str(t))[0]
             for i, t in enumerate(ids)]
    assert found == [False, False, True, True, True]
    latest = eng.add("x", "m", "monitor_cond_since", req, str(ids[-1]))
    assert latest[0] is True and orjson.dumps(latest[2]) == b"{}"
    # Atoms: each entry holds two versions of a 7-atom row; 30 atoms keep 2 entries.
    eng2 = MonitorEngine(SCHEMA, lambda: db, history_max_txns=100, history_max_atoms=30)
    for i in range(5):
        eng2.commit(db.commit({"Port": {_uuid(1): {"counter": A(i + 10)}}}))
        assert eng2.history.atoms <= 30
    assert len(eng2.history) == 2
    # Default: no more atoms than the database holds.
    eng3 = MonitorEngine(SCHEMA, lambda: db, history_max_txns=100)
    for i in range(50):
        eng3.commit(db.commit({"Port": {_uuid(2): {"counter": A(i + 100)}}}))
        held = sum(n_atoms(r) for r in db.tables["Port"].values())
        assert eng3.history.atoms <= held
    # History off: OVS's standalone behaviour.
    eng4 = MonitorEngine(SCHEMA, lambda: db, history_max_txns=0)
    eng4.commit(db.commit({"Port": {_uuid(2): {"counter": A(0)}}}))
    r = eng4.add("y", "m", "monitor_cond_since", req, str(ids[-1]))
    assert r[:2] == [False, "00000000-0000-0000-0000-000000000000"]


def _expected(db, where_chassis=None):
    return {"Port": {str(u): {c: row[c] for c in ("name", "chassis", "tags", "counter")}
                     for u, row in db.tables["Port"].items()
                     if where_chassis is None or row["chassis"] == A(where_chassis)}}


def test_stuck_client_merges_while_10000_transactions_flow():
    rng = random.Random(3)
    n_rows = 50
    db = _setup(n_rows, 5)
    eng = MonitorEngine(SCHEMA, lambda: db)
    cols = ("name", "chassis", "tags", "counter")
    req_all = {"Port": [{"columns": list(cols)}]}
    req_ch1 = {"Port": [{"columns": list(cols), "where": [["chassis", "==", "ch1"]]}]}
    clients = {"live": (req_all, None), "live-ch1": (req_ch1, "ch1"),
               "stuck": (req_all, None)}
    replicas = {}
    for sid, (req, _) in clients.items():
        replicas[sid] = Replica(SCHEMA, {"Port": cols})
        replicas[sid].apply("update2", orjson.loads(orjson.dumps(
            eng.add(sid, "m", "monitor_cond", req))))
    assert eng.set_backlogged("stuck", True) == []
    got = {sid: 0 for sid in clients}
    for i in range(10_000):
        u = _uuid(rng.randrange(n_rows))
        changes = db.commit({"Port": {u: {"counter": A(i + 1)}}})
        for d in eng.commit(changes):
            for sid in d.sessions:
                got[sid] += 1
                replicas[sid].apply("update2", orjson.loads(d.data)["params"][1])
        if i % 1000 == 0:
            # Bounded by the rows that changed, not by the transactions.
            assert eng.pending_rows("stuck") <= n_rows
            assert replicas["live"].tables == _expected(db)
    assert got["live"] == 10_000 and got["stuck"] == 0
    assert 0 < got["live-ch1"] < 10_000
    assert replicas["live"].tables == _expected(db)
    assert replicas["live-ch1"].tables == _expected(db, "ch1")
    assert eng.pending_rows("stuck") <= n_rows
    released = eng.set_backlogged("stuck", False)
    assert len(released) == 1
    replicas["stuck"].apply("update2", orjson.loads(released[0])["params"][1])
    assert replicas["stuck"].tables == _expected(db)
    assert eng.pending_rows("stuck") == 0


def test_replica_rejects_bad_streams():
    """The client model used by the property tests is strict (known-bad inputs)."""
    from simulation.monitor_replica import ReplicaError
    rep = Replica(SCHEMA, {"Port": ("counter",)})
    rep.apply("update2", {"Port": {"a": {"insert": {"counter": 1}}}})
    for bad in ({"Port": {"a": {"insert": {}}}}, {"Port": {"b": {"modify": {}}}},
                {"Port": {"b": {"delete": None}}}, {"Port": {"a": {"insert": {"x": 1}}}}):
        with pytest.raises(ReplicaError):
            rep.apply("update2", bad)


@pytest.mark.parametrize("seed", range(5))
def test_resume_carries_exactly_the_missed_transactions(seed):
    """A client resuming from txn k gets what a client stuck since txn k gets on release:
    the merge of transactions k+1.. and nothing else."""
    rng = random.Random(seed)
    db = _setup(20, 4)
    eng = MonitorEngine(SCHEMA, lambda: db, history_max_txns=50, history_max_atoms=10**9)
    req = {"Port": [{"columns": ["chassis", "counter", "tags"],
                     "where": [["chassis", "==", "ch1"], ["tags", "includes", "t2"]]}]}
    # A first transaction through the engine: before it, the last-txn-id is zero, from
    # which no resume can be found.
    eng.commit(db.commit({"Port": {_uuid(0): {"counter": A(-1)}}}))
    last = None
    for sid in ("held", "resumer"):
        last = eng.add(sid, "m", "monitor_cond_since", req, str(uuid.UUID(int=0)))[1]
    eng.set_backlogged("held", True)
    eng.drop_session("resumer")
    for i in range(rng.randint(1, 30)):
        u = _uuid(rng.randrange(20))
        write = None if rng.random() < 0.1 else {
            "counter": A(i), "chassis": A(f"ch{rng.randrange(4)}"),
            "tags": datum.Datum.set(rng.sample(["t1", "t2", "all"], 2))}
        eng.commit(db.commit({"Port": {u: write}}))
    released = eng.set_backlogged("held", False)
    found, txn, updates = eng.add("resumer", "m", "monitor_cond_since", req, last)
    assert found is True and txn == str(eng.last_txn_id)
    body = orjson.loads(orjson.dumps(updates))
    if released:
        msg = orjson.loads(released[0])
        assert msg["params"][1] == txn
        # Same rows and row updates (their order follows each path's own history).
        assert msg["params"][2] == body
    else:
        assert body == {}


def test_merge_window_holds_all_but_the_committer_and_keeps_backlogged_sessions_merged():
    """The wait re-run merge: while the window is open, held sessions get one merged
    update on close; the committer sees the opening commit live; a session that was
    backlogged before stays merged after the window closes."""
    db = _setup(4, 2)
    eng = MonitorEngine(SCHEMA, lambda: db)
    req = {"Port": [{"columns": ["counter"]}]}
    for sid in ("committer", "other", "stuck"):
        eng.add(sid, "m", "monitor_cond", req)
    eng.set_backlogged("stuck", True)

    def counters(data: bytes) -> dict:
        rows = orjson.loads(data)["params"][1]["Port"]
        return {u: next(iter(ch.values())).get("counter") for u, ch in rows.items()}

    eng.open_merge_window("committer")
    first = _deliveries_by_session(eng.commit(db.commit({"Port": {_uuid(0): {"counter": A(1)}}})))
    assert set(first) == {"committer"}
    eng.widen_merge_window("committer")
    assert eng.commit(db.commit({"Port": {_uuid(1): {"counter": A(2)}}})) == []
    # Going idle while the window holds it does not release the session early.
    eng.set_backlogged("other", True)
    assert eng.set_backlogged("other", False) == []
    released = {d.sessions: d.data for d in eng.close_merge_window()}
    assert set(released) == {("committer",), ("other",)}
    assert counters(released[("committer",)]) == {str(_uuid(1)): 2}
    assert counters(released[("other",)]) == {str(_uuid(0)): 1, str(_uuid(1)): 2}
    assert eng.pending_rows("stuck") == 2
    later = eng.commit(db.commit({"Port": {_uuid(2): {"counter": A(3)}}}))
    assert {s for d in later for s in d.sessions} == {"committer", "other"}
    [stuck] = eng.set_backlogged("stuck", False)
    assert counters(stuck) == {str(_uuid(0)): 1, str(_uuid(1)): 2, str(_uuid(2)): 3}


def test_a_merge_window_opened_with_nobody_else_watching_does_not_hold_the_committer():
    db = _setup(2, 1)
    eng = MonitorEngine(SCHEMA, lambda: db)
    eng.add("committer", "m", "monitor_cond", {"Port": [{"columns": ["counter"]}]})
    eng.open_merge_window("committer")
    eng.commit(db.commit({"Port": {_uuid(0): {"counter": A(1)}}}))
    eng.widen_merge_window("committer")
    assert len(eng.commit(db.commit({"Port": {_uuid(1): {"counter": A(2)}}}))) == 1
    assert eng.close_merge_window() == []
