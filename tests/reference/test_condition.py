"""Conditions: parsing with OVS's errors, evaluation (including the optional-column
rules measured on ovsdb-server 3.1), AND for where clauses, OR for monitors."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.data.condition import (
    TRUE_CONDITION,
    parse_clause,
    parse_monitor_condition,
    parse_where,
)
from reference.data.database import make_row
from reference.data.datum import Datum
from reference.data.errors import OvsdbError
from reference.data.schema import parse_schema
from tests.reference.test_schema import TEST_SCHEMA

ROOT = parse_schema(TEST_SCHEMA).tables["Root"]
A = make_row(ROOT, uuid.uuid4(), {"name": Datum.atom("a")})
B = make_row(ROOT, uuid.uuid4(), {
    "name": Datum.atom("b"), "opt": Datum.atom(3), "iset": Datum.set([1, 2]),
    "smap": Datum.map({"c": "3"})})

E = "empty"  # stands for ["set", []] (lists cannot be dict keys)

# [fn, arg] -> rows matching, as ovsdb-server 3.1 answered (A: opt empty, B: opt 3).
OPTIONAL_TABLE = {
    ("==", E): "a", ("==", 3): "b", ("==", 4): "", ("==", 2): "",
    ("!=", E): "b", ("!=", 3): "a", ("!=", 4): "ab", ("!=", 2): "ab",
    ("<", 3): "", ("<", 4): "b", ("<", 2): "",
    ("<=", 3): "b", ("<=", 4): "b", ("<=", 2): "",
    (">", 3): "", (">", 4): "", (">", 2): "b",
    (">=", 3): "b", (">=", 4): "", (">=", 2): "b",
    ("includes", E): "ab", ("includes", 3): "b", ("includes", 4): "",
    ("excludes", E): "ab", ("excludes", 3): "a", ("excludes", 4): "ab",
    ("excludes", 2): "ab",
}


@pytest.mark.parametrize("key", list(OPTIONAL_TABLE), ids=str)
def test_optional_column_semantics_match_ovs(key):
    fn, arg = key
    arg = ["set", []] if arg == E else arg
    c = parse_clause(ROOT, ["opt", fn, arg])
    got = "".join(n for n, row in (("a", A), ("b", B)) if c.evaluate(row))
    assert got == OPTIONAL_TABLE[key]


def test_ordering_on_optional_needs_one_value():
    with pytest.raises(OvsdbError) as e:
        parse_clause(ROOT, ["opt", "<", ["set", []]])
    assert e.value.details == "set must have exactly one member but 0 are present"


@pytest.mark.parametrize("j, err, details", [
    (["zz", "<", 1], "unknown column", "No column zz in table Root."),
    (["name", "<", "a"], "syntax error",
     'Type mismatch: "<" operator may not be applied to column name of type string.'),
    (["iset", "<", 1], "syntax error",
     'Type mismatch: "<" operator may not be applied to column iset of type set of '
     "integers."),
    (["smap", "<", ["map", []]], "syntax error",
     'Type mismatch: "<" operator may not be applied to column smap of type map of '
     "(string, string) pairs."),
    (["i", "like", 0], "unknown function", "No function named like."),
    (["i", "=="], "syntax error", "Parse error in condition."),
    (["i", "==", ["set", [1, 2]]], "syntax error",
     "set must have exactly one member but 2 are present"),
    (["ri", "==", 100], "constraint violation",
     "100 is not in the valid range 0 to 10 (inclusive)"),
])
def test_parse_errors_match_ovs(j, err, details):
    with pytest.raises(OvsdbError) as e:
        parse_clause(ROOT, j)
    assert (e.value.error, e.value.details) == (err, details)
    if err != "unknown function" and err != "constraint violation":
        assert e.value.syntax is not None


def test_sets_and_maps():
    ev = lambda j, row: parse_clause(ROOT, j).evaluate(row)  # noqa: E731
    assert ev(["iset", "includes", ["set", [1]]], B)
    assert not ev(["iset", "includes", ["set", [1, 9]]], B)
    assert ev(["iset", "excludes", ["set", [7, 9]]], B)
    assert not ev(["iset", "excludes", ["set", [1, 9]]], B)
    assert ev(["iset", "==", ["set", [2, 1]]], B)
    assert ev(["smap", "includes", ["map", [["c", "3"]]]], B)
    assert not ev(["smap", "includes", ["map", [["c", "4"]]]], B)
    assert ev(["smap", "excludes", ["map", [["c", "4"]]]], B)  # pairs, not keys
    assert ev(["i", "includes", 0], A) and not ev(["i", "excludes", 0], A)


def test_indexable_clauses():
    assert parse_clause(ROOT, ["name", "==", "a"]).indexable
    assert parse_clause(ROOT, ["iset", "includes", 1]).indexable
    assert not parse_clause(ROOT, ["name", "!=", "a"]).indexable
    assert not parse_clause(ROOT, True).indexable


def test_where_is_and_monitor_is_or():
    both = [["name", "==", "a"], ["name", "==", "b"]]
    assert not any(parse_where(ROOT, both).evaluate(r) for r in (A, B))
    assert all(parse_monitor_condition(ROOT, both).evaluate(r) for r in (A, B))
    assert parse_where(ROOT, []).evaluate(A) and parse_monitor_condition(ROOT, []).evaluate(A)
    assert parse_monitor_condition(ROOT, [True]).is_true
    assert parse_monitor_condition(ROOT, [False]).is_false
    assert parse_where(ROOT, [True, False]).is_false and TRUE_CONDITION.is_true
    assert not parse_monitor_condition(ROOT, [False]).evaluate(A)


_CLAUSES = [["name", "==", "a"], ["name", "!=", "b"], ["opt", "<", 4], ["opt", ">=", 3],
            ["iset", "includes", 1], ["iset", "excludes", ["set", [5]]], True, False,
            ["i", "==", 0], ["smap", "includes", ["map", [["c", "3"]]]]]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(_CLAUSES), max_size=4))
def test_combinations_are_and_or_of_clauses(js):
    singles = [parse_clause(ROOT, j) for j in js]
    for row in (A, B):
        assert parse_where(ROOT, js).evaluate(row) == all(c.evaluate(row) for c in singles)
        assert parse_monitor_condition(ROOT, js).evaluate(row) == \
            (not js or any(c.evaluate(row) for c in singles))
