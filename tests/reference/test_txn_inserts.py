"""The insert fast path (reference.txn.insert_fast_path) against the general engine.

Twin databases take the same random insert-only transactions, one through
engine.execute as it runs (fast path first) and one with the fast path switched off, each
drawing UUIDs from the same seeded sequence.  Results, change sets (table and row
order included), and the databases afterwards (rows, row order, indexes) must be equal.
The streams are built so that both paths are taken many times: tables with and
without references, values in and out of range, index duplicates, maxRows.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import orjson
import pytest

from harness.targets.server import OVN_NB, OVN_SB, VSWITCH
from reference.data import uuidgen
from reference.data.database import Database
from reference.data.schema import parse_schema
from reference.txn import engine
from reference.txn.insert_fast_path import _insertable
from tests.reference import test_txn_fuzz_vs_ovs as fuzz
from tests.reference.test_txn_fuzz_vs_ovs import Fuzzer

CRUCIBLE = Path(__file__).parent / "schemas" / "crucible.ovsschema"
N_TXNS = 400


class SeededUuids:
    """Makes uuidgen draw from a sequence that restart() rewinds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rng = random.Random()
        monkeypatch.setattr(uuidgen, "_refill", self._refill)

    def _refill(self) -> None:
        uuidgen._pool.extend(uuid.UUID(int=self.rng.getrandbits(128), version=4)
                             for _ in range(16))

    def restart(self, seed: int) -> None:
        self.rng.seed(seed)
        uuidgen._pool.clear()


def plain_insert(fz: Fuzzer) -> dict:
    """An insert without "uuid"/"uuid-name" (the fast path's shape), into a table the
    fast path may take more often than not, with reference columns often left empty;
    sometimes with a wrong column or a value the column refuses."""
    rng = fz.rng
    names = list(fz.schema.tables)
    eligible = [t for t in names if _insertable(fz.schema.tables[t]) is not None]
    ts = fz.schema.tables[rng.choice(eligible if rng.random() < 0.8 else names)]
    cols = list(ts.user_columns)
    row = {}
    for c in rng.sample(cols, min(len(cols), rng.randint(0, 4))):
        t = ts.columns[c].type
        is_ref = t.key.ref_table or (t.value and t.value.ref_table)
        row[c] = ["set", []] if is_ref and t.n_min == 0 and rng.random() < 0.7 \
            else fz.datum(t)
    if rng.random() < 0.03:
        row["no_such_column"] = 1
    if rng.random() < 0.03 and cols:
        row[rng.choice(cols)] = {"not": "a datum"}
    return {"op": "insert", "table": ts.name, "row": row}


def snapshot(db: Database) -> dict:
    return {name: (list(t.order), dict(t.rows), [dict(i) for i in t.indexes])
            for name, t in db.tables.items()}


def changes_view(changes) -> object:
    if changes is None:
        return None
    for _, u, ch in changes.rows():  # a UUID's text, where given, is the UUID's
        assert ch.text in (None, str(u))
    return ([(t, list(rows.items())) for t, rows in changes.tables.items()],
            changes.orders)


@pytest.mark.parametrize("schema_path", [CRUCIBLE, OVN_NB, OVN_SB, VSWITCH],
                         ids=["crucible", "ovn-nb", "ovn-sb", "vswitch"])
def test_fast_path_matches_general_engine(monkeypatch, schema_path):
    schema_json = orjson.loads(Path(schema_path).read_bytes())
    uuids = SeededUuids(monkeypatch)
    fast_db, slow_db = (Database(parse_schema(schema_json)) for _ in range(2))
    fz = Fuzzer(schema_json, seed=11)
    fz.strings += [f"s{i}" for i in range(500)]  # so that indexes are not all full
    # Not ASCII; the last as the framing hands over bytes that are not UTF-8.
    fz.strings += ["é", "☃ snow", "bad \udcff"]
    # Integers at int64's ends, and reals: integral ones count as integers, and the
    # wire reader turns integers past int64 into reals.
    monkeypatch.setattr(fuzz, "INT_EDGES", [*fuzz.INT_EDGES, 2**63 - 1, -(2**63),
                                            float(2**63), 3.0, 2.5])
    taken = {"fast": 0, "general": 0}
    real_fast_path = engine.execute_inserts

    def counted(db, ops):
        out = real_fast_path(db, ops)
        taken["fast" if out is not None else "general"] += 1
        return out

    for i in range(N_TXNS):
        ops = [plain_insert(fz) for _ in range(fz.rng.choice([1, 1, 1, 1, 2, 3]))]
        if i % 10 == 0 and taken["fast"]:
            ops = ops + ops  # the same rows twice: index duplicates within one txn
        outcomes = []
        for db, fast in ((fast_db, counted), (slow_db, lambda db, ops: None)):
            monkeypatch.setattr(engine, "execute_inserts", fast)
            uuids.restart(i)
            out = engine.execute(db, ops, now_ms=0, started_ms=0)
            if out.changes is not None:
                db.apply(out.changes)
            outcomes.append(out)
        a, b = outcomes
        where = repr(ops)
        assert a.result == b.result, where
        assert changes_view(a.changes) == changes_view(b.changes), where
        assert (a.durable, a.blocked_until, a.comment) == (b.durable, b.blocked_until,
                                                           b.comment)
        assert snapshot(fast_db) == snapshot(slow_db), where
    print(f"{schema_path.name if isinstance(schema_path, Path) else schema_path}: "
          f"{N_TXNS} insert-only transactions, {taken}")
    # Both paths must really be exercised, or the comparison says nothing.
    assert taken["fast"] > N_TXNS // 10 and taken["general"] > N_TXNS // 10, taken


def test_fast_path_declines_what_needs_the_general_engine():
    db = Database(parse_schema(orjson.loads(CRUCIBLE.read_bytes())))
    ok = {"op": "insert", "table": "Pair", "row": {"a": "x", "b": 1}}
    assert engine.execute_inserts(db, [ok]) is not None
    declined = [
        [],
        [dict(ok, uuid="8c4a4e3c-4d8e-4a8e-9b3e-0e6c8a7d2f10")],
        [dict(ok, **{"uuid-name": "r"})],
        [ok, {"op": "comment", "comment": "c"}],
        [dict(ok, table="Nope")],
        [dict(ok, row={"a": "x", "b": "not an integer"})],
        [dict(ok, row={"a": "x", "b": True})],
        [dict(ok, row={"a": "x", "b": 2.5})],
        [dict(ok, row={"a": "x", "b": 2**63})],  # past int64 (the wire makes it a real)
        [dict(ok, row={"a": "bad \udcff", "b": 1})],  # bytes that were not UTF-8
        [dict(ok, row={"_uuid": ["uuid", "8c4a4e3c-4d8e-4a8e-9b3e-0e6c8a7d2f10"]})],
        [ok, ok],  # the index on (a, b) would hold a duplicate
    ]
    for ops in declined:
        assert engine.execute_inserts(db, ops) is None, ops
    # Garbage collection and references that must be checked are the general engine's.
    assert not db.schema.tables["Leaf"].is_root
    assert engine.execute_inserts(db, [{"op": "insert", "table": "Leaf", "row": {}}]) is None
    holder = {"op": "insert", "table": "Holder", "row": {"name": "h"}}
    assert engine.execute_inserts(db, [holder]) is None  # "must" may not be empty
