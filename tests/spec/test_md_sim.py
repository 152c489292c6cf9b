"""The test-side trace generator's update2 semantics (diff, apply) and the trace-module
writer, checked without TLC."""

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.tracecheck import TraceError, to_tla_module
from tests.spec.md_sim import apply, diff, random_trace

vals = st.integers(0, 2)
rows = st.fixed_dictionaries({
    "n": vals,
    "s": st.frozensets(vals),
    "m": st.dictionaries(vals, vals).map(lambda d: frozenset(d.items())),
})
dbs = st.dictionaries(st.integers(0, 2), rows)


@given(dbs, dbs)
def test_apply_of_diff_is_the_target(a, b):
    assert apply(a, diff(a, b)) == b


@given(dbs, dbs)
def test_set_toggles_applied_twice_undo_themselves(a, b):
    # Why a doubled update is caught: a set diff toggles, so applying it twice gives
    # back the old set, not the new one.
    d = diff(a, b)
    if any(u["op"] == "modify" and u.get("s") for u in d):
        assert apply(apply(a, d), d) != b


@settings(max_examples=30)
@given(st.integers(0, 10_000))
def test_module_has_one_record_per_event(seed):
    t = random_trace(seed, 60)
    prep = to_tla_module(t)
    assert len(prep.events) == len(t) - 1  # Init becomes the initial state
    assert prep.module.count('[action |-> "') == len(prep.events)
    assert f"TrMaxTxn == {sum(e['action'] == 'Commit' for e in t)}" in prep.module


def test_malformed_traces():
    for bad in ([{"action": "Commit", "txn": "x"}], [{"action": "Resume", "client": 1}],
                [{"action": "RequestCondChange", "client": 1, "cond": [["q", "==", 1]]}], [1]):
        try:
            to_tla_module(bad)
        except TraceError:
            continue
        raise AssertionError(f"accepted {bad}")
