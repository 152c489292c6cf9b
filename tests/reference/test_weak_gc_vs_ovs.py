"""Weak references to rows deleted or garbage-collected in the same commit, against
ovsdb-server 3.1, on a schema made for it (issue 19): the crucible schema's sessions
(sessions/weak_gc.py) cannot hold, in one row, weak columns of one value and of many
pointing at the same non-root table.

What 3.1 does, and these pin: a referring row the commit does not otherwise touch
always loses the reference; a referring row the transaction modified keeps it, dangling,
in a set column (max > 1) and loses it in a column of at most one value, whatever the
order of the operations.
"""

from __future__ import annotations

import json

import pytest

from tests.reference.sessions import tx
from tests.reference.sessions.transact import ins, sel, upd
from tests.reference.test_differential import compare


def weak(n_max):
    return {"type": {"key": {"type": "uuid", "refTable": "L", "refType": "weak"},
                     "min": 0, "max": n_max}}


SCHEMA = {"name": "P", "version": "1.0.0", "tables": {
    "A": {"isRoot": True, "columns": {"x": {"type": "integer"}, "wone": weak(1),
                                      "wtwo": weak(2), "wset": weak("unlimited")}},
    # A weak reference that must be there: losing it fails the commit.
    "R": {"isRoot": True, "columns": {"x": {"type": "integer"},
                                      "wreq": {"type": {**weak(1)["type"], "min": 1}}}},
    "S": {"isRoot": True, "columns": {"s": {"type": {"key": {"type": "uuid",
                                                             "refTable": "L"},
                                                     "min": 0, "max": 1}},
                                      "w": weak("unlimited")}},
    "C": {"columns": {"l": {"type": {"key": {"type": "uuid", "refTable": "L"},
                                     "min": 0, "max": 1}}}},
    "L": {"columns": {"n": {"type": "integer"}}},
}}


def t(i, *ops):
    return tx(i, *ops, db="P")


SETUP = t(1, ins("L", {"n": 1}, name="l"), ins("L", {"n": 2}, name="l2"),
          ins("S", {"s": ["named-uuid", "l"], "w": ["named-uuid", "l"]}),
          ins("A", {"x": 1, "wone": ["named-uuid", "l"], "wtwo": ["named-uuid", "l"],
                    "wset": ["set", [["named-uuid", "l"], ["named-uuid", "l2"]]]}),
          ins("C", {"l": ["named-uuid", "l2"]}, name="c"),
          ins("S", {"s": ["set", []], "w": ["named-uuid", "l2"]}))
TOUCH_A = upd("A", [], {"x": 2})
DROP_S = upd("S", [["s", "!=", ["set", []]]], {"s": ["set", []]})
REQUIRED = t(4, ins("L", {"n": 3}, name="l3"), ins("R", {"wreq": ["named-uuid", "l3"]}),
             ins("S", {"s": ["named-uuid", "l3"]}))
DROP_S3 = upd("S", [["s", "!=", ["set", []]]], {"s": ["set", []]})
TOUCH_R = upd("R", [], {"x": 2})
SHOW = [sel("A", [], ["wone", "wtwo", "wset"]), sel("S", [], ["s", "w"]), sel("L", [], ["n"])]

SESSIONS = {
    "required_weak_ref_untouched": [REQUIRED, t(5, DROP_S3), t(6, sel("R", [], ["wreq"]))],
    "required_weak_ref_touched_first": [REQUIRED, t(5, TOUCH_R, DROP_S3),
                                        t(6, sel("R", [], ["wreq"]))],
    "required_weak_ref_touched_after": [REQUIRED, t(5, DROP_S3, TOUCH_R),
                                        t(6, sel("R", [], ["wreq"]))],
    "untouched_referrer": [SETUP, t(2, DROP_S), t(3, *SHOW)],
    "referrer_touched_first": [SETUP, t(2, TOUCH_A, DROP_S), t(3, *SHOW)],
    "referrer_touched_after": [SETUP, t(2, DROP_S, TOUCH_A), t(3, *SHOW)],
    # A non-root holder (C) of l2 deleted: l2 collected in the cascade.
    "cascade_through_deleted_child": [
        SETUP, t(2, TOUCH_A, {"op": "delete", "table": "C", "where": []}), t(3, *SHOW)],
    "both_collected_at_once": [
        SETUP, t(2, upd("S", [], {"s": ["set", []]}), TOUCH_A,
                 {"op": "delete", "table": "C", "where": []}), t(3, *SHOW)],
}


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_weak_refs_to_collected_rows_match_ovsdb_server(tmp_path, name):
    schema = tmp_path / "p.ovsschema"
    schema.write_text(json.dumps(SCHEMA))
    compare(SESSIONS[name], schema)
