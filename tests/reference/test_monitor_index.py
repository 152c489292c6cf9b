"""The two indexes never miss: ConditionIndex.candidates(row) holds every condition that
matches the row, and RowIndex.candidates holds every row an indexable condition matches
(checked against brute-force evaluation over random rows and conditions)."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from reference.data import datum
from reference.data.condition import parse_monitor_condition
from reference.data.schema import parse_schema
from reference.monitor.condition_index import ConditionIndex
from reference.monitor.row_index import RowIndex
from simulation.monitor_db import SimDB

SCHEMA = parse_schema({"name": "I", "version": "1.0.0", "tables": {"T": {"columns": {
    "c": {"type": "integer"},
    "s": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
    "m": {"type": {"key": "integer", "value": "integer", "min": 0, "max": "unlimited"}},
}}}})
TS = SCHEMA.tables["T"]
v = st.integers(0, 3)
clause = st.one_of(
    st.tuples(st.sampled_from(["==", "!=", "<", ">="]), v).map(lambda t: ["c", t[0], t[1]]),
    st.tuples(st.sampled_from(["includes", "excludes", "=="]),
              st.lists(v, max_size=2, unique=True)).map(lambda t: ["s", t[0], ["set", t[1]]]),
    st.tuples(st.sampled_from(["includes", "=="]), v, v).map(
        lambda t: ["m", t[0], ["map", [[t[1], t[2]]]]]),
    st.booleans(),
)
where = st.lists(clause, max_size=3)
row = st.fixed_dictionaries({
    "c": v.map(datum.Datum.atom),
    "s": st.lists(v, max_size=3).map(datum.Datum.set),
    "m": st.dictionaries(v, v, max_size=3).map(datum.Datum.map)})


@settings(max_examples=150, deadline=None)
@given(conds=st.lists(where, min_size=1, max_size=8),
       rows=st.lists(row, min_size=1, max_size=8),
       later=st.dictionaries(st.integers(0, 9), st.one_of(st.none(), row), max_size=6))
def test_indexes_never_miss(conds, rows, later):
    parsed = [parse_monitor_condition(TS, w) for w in conds]
    index = ConditionIndex()
    for i, tc in enumerate(parsed):
        index.add(i, tc)
    db = SimDB(SCHEMA)
    db.commit({"T": {uuid.UUID(int=k + 1): r for k, r in enumerate(rows)}})
    rindex = RowIndex()
    for r in db.tables["T"].values():
        cands: set = set()
        index.candidates(r, cands)
        assert {i for i, tc in enumerate(parsed) if tc.match(r)} <= cands
    for phase in range(2):
        for tc in parsed:
            terms = None if tc.always or tc.never else tc.index_terms()
            if terms is None:
                continue
            got = set(rindex.candidates(db, "T", terms))
            assert {u for u, r in db.tables["T"].items() if tc.match(r)} <= got
        if phase == 0:
            # The row index is maintained from change sets, not rebuilt.
            changes = db.commit({"T": {uuid.UUID(int=k + 1): r for k, r in later.items()}})
            rindex.update(changes.tables)
    # Removing conditions leaves no candidates and no empty buckets behind.
    for i in range(len(parsed)):
        index.remove(i)
    for r in db.tables["T"].values():
        cands = set()
        index.candidates(r, cands)
        assert not cands
    assert not index.always and not index.fallback and not index.eq and not index.inc


def test_a_term_two_clauses_share_is_filed_once():
    # includes {0} and includes {0, 1} are both filed under element 0 of s; removing
    # their owner must take that term out once and leave no empty bucket behind.
    index = ConditionIndex()
    cond = parse_monitor_condition(TS, [["s", "includes", ["set", [0]]],
                                        ["s", "includes", ["set", [0, 1]]]])
    index.add("owner", cond)
    index.remove("owner")
    assert not index.eq and not index.inc and not index.always and not index.fallback
