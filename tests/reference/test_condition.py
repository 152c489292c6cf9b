"""Conditions: parsing with OVS's errors, evaluation (including the optional-column
rules measured on ovsdb-server 3.1), AND for where clauses, OR for monitors, and the
normalised monitor form with its index terms."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.data.condition import (
    FALSE,
    TRUE,
    parse_clause,
    parse_monitor_condition,
    parse_where,
)
from reference.data.database import make_row
from reference.data.datum import Datum, SymbolTable
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
    got = "".join(n for n, row in (("a", A), ("b", B)) if c.match(row))
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
    ev = lambda j, row: parse_clause(ROOT, j).match(row)  # noqa: E731
    assert ev(["iset", "includes", ["set", [1]]], B)
    assert not ev(["iset", "includes", ["set", [1, 9]]], B)
    assert ev(["iset", "excludes", ["set", [7, 9]]], B)
    assert not ev(["iset", "excludes", ["set", [1, 9]]], B)
    assert ev(["iset", "==", ["set", [2, 1]]], B)
    assert ev(["smap", "includes", ["map", [["c", "3"]]]], B)
    assert not ev(["smap", "includes", ["map", [["c", "4"]]]], B)
    assert ev(["smap", "excludes", ["map", [["c", "4"]]]], B)  # pairs, not keys
    assert ev(["i", "includes", 0], A) and not ev(["i", "excludes", 0], A)


@pytest.mark.parametrize("parse", [
    lambda j: parse_where(ROOT, [j]), lambda j: parse_monitor_condition(ROOT, [j])],
    ids=["where", "monitor"])
def test_excludes_takes_more_elements_than_the_column_holds(parse):
    """As ovsdb-server 3.1 (transact, wait, monitor_cond, monitor_cond_change): a row can
    exclude any number of values; it can include at most as many as its column holds."""
    cond = parse(["imap", "excludes", ["map", [[1, 1], [2, 2], [3, 3]]]])
    assert cond.match(A) and cond.match(B)
    assert parse(["opt", "excludes", ["set", [3, 4]]]).match(A)
    assert not parse(["opt", "excludes", ["set", [3, 4]]]).match(B)
    with pytest.raises(OvsdbError) as e:
        parse(["imap", "includes", ["map", [[1, 1], [2, 2], [3, 3]]]])
    assert e.value.details == "map must have 0 to 2 members but 3 are present"
    with pytest.raises(OvsdbError) as e:
        parse(["sset3", "==", ["set", ["a", "b", "c", "d"]]])
    assert e.value.details == "set must have 1 to 3 members but 4 are present"
    with pytest.raises(OvsdbError) as e:
        parse(["i", "excludes", ["set", [1, 2]]])  # a scalar column takes one value
    assert e.value.details == "set must have exactly one member but 2 are present"


def test_named_uuid_only_in_transactions():
    """A where clause resolves named-uuid through the transaction's symbol table; a
    monitor condition has none, and OVS then refuses the named-uuid form."""
    symtab = SymbolTable()
    assert not parse_where(ROOT, [["u", "==", ["named-uuid", "x"]]], symtab).match(A)
    assert "x" in symtab.symbols
    with pytest.raises(OvsdbError) as e:
        parse_monitor_condition(ROOT, [["u", "==", ["named-uuid", "x"]]])
    assert e.value.details == 'expected ["uuid", <string>]'


def test_index_terms():
    def terms(where):
        return parse_monitor_condition(ROOT, where).index_terms()
    assert terms([["name", "==", "a"]]) == [("name", "==", Datum.atom("a"))]
    assert terms([["iset", "includes", ["set", [2, 1]]]]) == [("iset", "includes", 1)]
    assert terms([["smap", "includes", ["map", [["c", "3"]]]]]) == \
        [("smap", "includes", ("c", "3"))]
    # Any clause without a term (or an empty "includes", which every row satisfies)
    # leaves the whole condition to evaluation.
    assert terms([["name", "==", "a"], ["name", "!=", "b"]]) is None
    assert terms([["iset", "includes", ["set", []]]]) is None
    assert terms([["iset", "excludes", 1]]) is None


def test_monitor_conditions_are_normalised():
    def key(where):
        return parse_monitor_condition(ROOT, where).key
    one, two = ["name", "==", "a"], ["iset", "includes", ["set", [2, 1]]]
    assert key([one, two]) == key([two, one, False, one]) == \
        key([["iset", "includes", ["set", [1, 2]]], one])
    assert key([one]) != key([two]) and key([one]) != key([["name", "!=", "a"]])
    assert parse_monitor_condition(ROOT, None) is TRUE
    assert parse_monitor_condition(ROOT, []) is TRUE
    assert parse_monitor_condition(ROOT, [one, True]) is TRUE
    assert parse_monitor_condition(ROOT, [False, False]) is FALSE
    assert parse_monitor_condition(ROOT, [one, one]).columns == ("name",)


def test_where_is_and_monitor_is_or():
    both = [["name", "==", "a"], ["name", "==", "b"]]
    assert not any(parse_where(ROOT, both).match(r) for r in (A, B))
    assert all(parse_monitor_condition(ROOT, both).match(r) for r in (A, B))
    assert parse_where(ROOT, []).match(A) and parse_monitor_condition(ROOT, []).match(A)
    assert parse_monitor_condition(ROOT, [True]).always
    assert parse_monitor_condition(ROOT, [False]).never
    assert parse_where(ROOT, [True, False]).never
    assert not parse_where(ROOT, [True, False]).match(A)
    assert not parse_monitor_condition(ROOT, [False]).match(A)


_CLAUSES = [["name", "==", "a"], ["name", "!=", "b"], ["opt", "<", 4], ["opt", ">=", 3],
            ["iset", "includes", 1], ["iset", "excludes", ["set", [5]]], True, False,
            ["i", "==", 0], ["smap", "includes", ["map", [["c", "3"]]]]]


def _match(clause, row):
    return clause if isinstance(clause, bool) else clause.match(row)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(_CLAUSES), max_size=4))
def test_combinations_are_and_or_of_clauses(js):
    singles = [parse_clause(ROOT, j) for j in js]
    for row in (A, B):
        assert parse_where(ROOT, js).match(row) == all(_match(c, row) for c in singles)
        assert parse_monitor_condition(ROOT, js).match(row) == \
            (not js or any(_match(c, row) for c in singles))
