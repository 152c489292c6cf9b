"""Trace validation's module writer (harness.spec.trace_validation.to_tla_module),
checked without TLC on traces from the spec-side simulator."""

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.spec.trace_validation import TraceError, to_tla_module
from simulation.monitor_trace_from_spec import random_trace


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
