"""The spec-side trace simulator's update2 semantics: applying a diff gives its target,
and a doubled set update does not (which is why trace validation catches one)."""

from hypothesis import given
from hypothesis import strategies as st

from simulation.monitor_trace_from_spec import apply, diff

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
