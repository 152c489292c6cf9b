"""Hand-written good and bad monitor streams: every property has a case that must fail.

The story every case starts from (clock row CLK in table Cell; data in Item; the
client watches Item rows with tag == "x"):

    initial  A = {a, 1, x}
    txn 1    insert B = {b, 2, x}
    txn 2    A.value = 3
    txn 3    insert C = {c, 4, y}        (outside the condition: no Item change sent)
    txn 4    delete B
    txn 5    C = {c, 5, x}               (enters the condition: sent as an insert)
    txn 6    A.value = 6, C.value = 7    (two rows in one transaction)
"""

from __future__ import annotations

import copy

import pytest

from harness.checkers.monitor import PROPERTIES, Columns, check, clause_matches, matches

CLK = "00000000-0000-0000-0000-00000000000c"
A = "aaaaaaaa-0000-0000-0000-000000000000"
B = "bbbbbbbb-0000-0000-0000-000000000000"
C = "cccccccc-0000-0000-0000-000000000000"
D = "dddddddd-0000-0000-0000-000000000000"


def row(name: str, value: int, tag: str) -> dict:
    return {"name": name, "value": value, "tag": tag}


def _txn(seq: int, items: dict) -> dict:
    return {"seq": seq, "changes": {"Cell": {CLK: {"key": "clock", "value": seq}},
                                    "Item": items}}


WRITES = {
    "initial": {"Cell": {CLK: {"key": "clock", "value": 0}},
                "Item": {A: row("a", 1, "x")}},
    "txns": [
        _txn(1, {B: row("b", 2, "x")}),
        _txn(2, {A: row("a", 3, "x")}),
        _txn(3, {C: row("c", 4, "y")}),
        _txn(4, {B: None}),
        _txn(5, {C: row("c", 5, "x")}),
        _txn(6, {A: row("a", 6, "x"), C: row("c", 7, "x")}),
    ],
}
COND = {"Cell": [["key", "==", "clock"]], "Item": [["tag", "==", "x"]]}


def clock(n: int) -> dict:
    return {"Cell": {CLK: {"modify": {"value": n}}}}


def upd(n: int | None, items: dict | None = None, txn_id: str | None = None) -> dict:
    u = clock(n) if n is not None else {}
    if items:
        u["Item"] = items
    ev = {"type": "update", "updates": u}
    if txn_id:
        ev["last_txn_id"] = txn_id
    return ev


def monitor(updates_items: dict, at: int = 0, method: str = "monitor_cond", **kw) -> dict:
    ups = {"Cell": {CLK: {"initial": {"key": "clock", "value": at}}}}
    if updates_items:
        ups["Item"] = updates_items
    return {"type": "monitor", "method": method, "cond": kw.pop("cond", COND),
            "updates": ups, **kw}


GOOD_UPDATES = [
    upd(1, {B: {"insert": row("b", 2, "x")}}),
    upd(2, {A: {"modify": {"value": 3}}}),
    upd(3),
    upd(4, {B: {"delete": None}}),
    upd(5, {C: {"insert": row("c", 5, "x")}}),
    upd(6, {A: {"modify": {"value": 6}}, C: {"modify": {"value": 7}}}),
]


def good_events() -> list[dict]:
    return [monitor({A: {"initial": row("a", 1, "x")}}), *copy.deepcopy(GOOD_UPDATES)]


def run(events: list[dict], quiescent: bool = True, writes: dict = WRITES):
    return check(writes, [{"client": "c1", "events": events}], quiescent=quiescent)


def failed(events: list[dict], **kw) -> set[str]:
    rep = run(events, **kw)
    assert not rep.problems, rep.problems
    return rep.failed()


# -- good streams ---------------------------------------------------------------------

def test_good_stream_passes_every_property():
    rep = run(good_events())
    assert rep.valid, rep.to_dict()
    assert set(rep.verdicts()) == set(PROPERTIES)
    assert all(v["ok"] for v in rep.verdicts().values())


def test_merged_updates_are_legal():
    # ovsdb-server merges the updates of a backlogged session: txns 2..5 in one update.
    merged = upd(5, {A: {"modify": {"value": 3}}, B: {"delete": None},
                     C: {"insert": row("c", 5, "x")}})
    ev = good_events()
    assert failed(ev[:2] + [merged] + ev[6:]) == set()


def test_monitor_all_rows_sees_outside_row():
    cond = {"Cell": [["key", "==", "clock"]], "Item": []}
    ev = [monitor({A: {"initial": row("a", 1, "x")}}, cond=cond), *GOOD_UPDATES[:2],
          upd(3, {C: {"insert": row("c", 4, "y")}}), GOOD_UPDATES[3],
          upd(5, {C: {"modify": {"value": 5, "tag": "x"}}}), GOOD_UPDATES[5]]
    assert failed(copy.deepcopy(ev)) == set()


def test_snapshot_from_before_the_setup_then_setup_arrives():
    # A cluster follower that had not applied the set-up answers with an empty database.
    empty = {"type": "monitor", "method": "monitor_cond", "cond": COND, "updates": {}}
    setup = {"type": "update", "updates": {
        "Cell": {CLK: {"insert": {"key": "clock"}}},
        "Item": {A: {"insert": row("a", 1, "x")}}}}
    assert failed([empty, setup, *copy.deepcopy(GOOD_UPDATES)]) == set()
    early = copy.deepcopy(empty)
    early["updates"] = {"Item": {A: {"initial": row("a", 1, "x")}}}
    assert "reliable" in failed([early, setup, *copy.deepcopy(GOOD_UPDATES)])


def test_not_quiescent_skips_convergence():
    assert failed(good_events()[:4], quiescent=False) == set()


# -- one bad stream per property ------------------------------------------------------

def test_ordered_two_updates_swapped():
    ev = good_events()
    ev[1], ev[2] = ev[2], ev[1]
    assert failed(ev) == {"ordered"}


def test_unique_update_delivered_twice():
    ev = good_events()
    ev.insert(3, copy.deepcopy(ev[2]))
    assert failed(ev) == {"unique"}


def test_unique_later_repeat_of_an_old_update():
    ev = good_events()
    ev.insert(5, copy.deepcopy(ev[1]))
    assert failed(ev) == {"unique"}


def test_unique_insert_of_a_row_already_held():
    ev = good_events()
    ev[3] = upd(3, {B: {"insert": row("b", 2, "x")}})
    assert "unique" in failed(ev)


def test_atomic_transaction_split_over_two_updates():
    ev = good_events()
    ev[6] = upd(6, {A: {"modify": {"value": 6}}})
    ev.append(upd(None, {C: {"modify": {"value": 7}}}))
    assert failed(ev) == {"atomic"}


def test_atomic_change_from_a_later_transaction_arrives_early():
    ev = good_events()
    ev[1] = upd(1, {B: {"insert": row("b", 2, "x")}, A: {"modify": {"value": 3}}})
    ev[2] = upd(2)
    assert "atomic" in failed(ev)


def test_reliable_dropped_update():
    ev = good_events()
    del ev[4]  # txn 4's delete of B never arrives
    assert "reliable" in failed(ev)
    assert "ordered" not in failed(ev) and "unique" not in failed(ev)


def test_reliable_dropped_insert_then_modify_of_unknown_row():
    ev = good_events()
    del ev[5]  # C's insert lost: txn 6 then modifies a row the client never had
    assert "reliable" in failed(ev)


def test_reliable_gap_hidden_by_a_later_write_is_still_a_gap():
    ev = good_events()
    ev[2] = upd(2)  # A.value = 3 never sent; txn 6 later overwrites A
    assert failed(ev) == {"reliable"}


def test_reliable_initial_snapshot_misses_a_row():
    ev = good_events()
    ev[0] = monitor({})
    assert "reliable" in failed(ev)


def test_filtered_row_outside_the_condition():
    ev = good_events()
    ev[3] = upd(3, {C: {"insert": row("c", 4, "y")}})
    assert failed(ev) == {"filtered"}


def test_filtered_row_the_server_never_had():
    ev = good_events()
    ev[3] = upd(3, {D: {"insert": row("d", 99, "x")}})
    assert failed(ev) == {"filtered"}


def _resume_events(found: bool, since: str | None, reply_items: dict, at: int) -> list[dict]:
    head = [monitor({A: {"initial": row("a", 1, "x")}}, method="monitor_cond_since",
                    since=None, found=False, last_txn_id="t0"),
            upd(1, {B: {"insert": row("b", 2, "x")}}, "t1"),
            upd(2, {A: {"modify": {"value": 3}}}, "t2"),
            {"type": "disconnect"}]
    reply = monitor(reply_items, at=at, method="monitor_cond_since", since=since,
                    found=found, last_txn_id=f"t{at}")
    reply["updates"]["Cell"] = ({CLK: {"modify": {"value": at}}} if found
                                else {CLK: {"initial": {"key": "clock", "value": at}}})
    return head + [reply, upd(6, {A: {"modify": {"value": 6}}, C: {"modify": {"value": 7}}},
                              "t6")]


def test_resumable_good_resume_and_good_full_resync():
    ok = _resume_events(True, "t2", {B: {"delete": None}, C: {"insert": row("c", 5, "x")}}, 5)
    assert failed(ok) == set()
    full = _resume_events(False, "t2", {A: {"initial": row("a", 3, "x")},
                                        C: {"initial": row("c", 5, "x")}}, 5)
    assert failed(full) == set()


def test_resumable_replays_a_change_already_seen():
    bad = _resume_events(True, "t2", {A: {"modify": {"value": 3}}, B: {"delete": None},
                                      C: {"insert": row("c", 5, "x")}}, 5)
    assert failed(bad) == {"resumable"}


def test_resumable_resume_misses_a_change():
    bad = _resume_events(True, "t2", {C: {"insert": row("c", 5, "x")}}, 5)
    assert "resumable" in failed(bad)


def test_resumable_found_for_an_id_the_client_did_not_send():
    bad = _resume_events(True, "t1", {B: {"delete": None}, C: {"insert": row("c", 5, "x")}},
                         5)
    assert failed(bad) == {"resumable"}


def test_resumable_full_resync_with_stale_row():
    bad = _resume_events(False, "t2", {A: {"initial": row("a", 1, "x")},
                                       C: {"initial": row("c", 5, "x")}}, 5)
    assert "resumable" in failed(bad)


def _cond_change_events(reply_items: dict) -> list[dict]:
    ev = good_events()[:4]  # at clock 3: A={a,3,x}, B={b,2,x}; C={c,4,y} outside
    new = {"Item": [["tag", "==", "y"]]}
    return ev + [{"type": "cond_change", "cond": new}, upd(None, reply_items),
                 {"type": "cond_change_reply", "error": None},
                 upd(4), upd(5, {C: {"delete": None}}),
                 upd(6, {})]


def test_condition_change_good():
    good = _cond_change_events({A: {"delete": None}, B: {"delete": None},
                                C: {"insert": row("c", 4, "y")}})
    assert failed(good) == set()


def test_condition_change_keeps_a_row_of_the_old_condition():
    bad = _cond_change_events({A: {"delete": None}, C: {"insert": row("c", 4, "y")}})
    assert "condition" in failed(bad)


def test_condition_change_misses_an_entering_row():
    bad = _cond_change_events({A: {"delete": None}, B: {"delete": None}})
    assert "condition" in failed(bad)


def test_convergent_client_stuck_behind():
    ev = good_events()[:-1]  # txn 6 never arrives, and nothing says it was dropped
    assert failed(ev) == {"convergent"}


def test_disconnected_client_is_not_held_to_convergence():
    ev = good_events()[:-1] + [{"type": "disconnect"}]
    assert failed(ev) == set()


# -- inputs and helpers ---------------------------------------------------------------

def test_incomplete_write_history_is_a_problem_not_a_pass():
    writes = copy.deepcopy(WRITES)
    del writes["txns"][2]
    rep = run(good_events(), writes=writes)
    assert rep.problems and not rep.valid
    assert not any(v["ok"] for v in rep.verdicts().values())


def test_event_before_monitor_is_a_problem():
    rep = run([upd(1)])
    assert rep.problems and not rep.valid


@pytest.mark.parametrize("clause,expect", [
    (["value", "<", 5], True), (["value", ">=", 5], False), (["tag", "!=", "x"], False),
    (["tags", "includes", 1], True), (["tags", "excludes", ["set", [1, 9]]], False),
    (["tags", "excludes", ["set", [8, 9]]], True), (["tags", "excludes", 2], False),
    (["tags", "includes", ["set", [1, 9]]], False),
    (["tags", "includes", ["set", [1, 2]]], True), (["opt", "<", 3], False),
    (True, True), (False, False),
])
def test_clauses(clause, expect):
    r = {"value": 4, "tag": "x", "tags": ["set", [1, 2]], "opt": ["set", []]}
    assert clause_matches(r, clause) is expect


def test_conditions_are_ored_and_empty_is_true():
    assert matches({"v": 1}, [])
    assert matches({"v": 1}, [["v", "==", 2], ["v", "==", 1]])
    assert not matches({"v": 1}, [["v", "==", 2], False])


def test_set_and_map_diffs_follow_update2():
    schema = {"tables": {"T": {"columns": {
        "s": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
        "m": {"type": {"key": "string", "value": "integer", "min": 0, "max": "unlimited"}},
        "o": {"type": {"key": "integer", "min": 0, "max": 1}},
        "i": {"type": "integer"}}}}}
    cols = Columns(schema)
    r = {"s": ["set", [1, 2]], "m": ["map", [["a", 1], ["b", 2]]], "o": 3, "i": 7}
    new = cols.apply_diff("T", r, {"s": ["set", [2, 3]], "m": ["map", [["a", 1], ["b", 5],
                                                                        ["c", 9]]],
                                   "o": ["set", []], "i": 0})
    assert sorted(new["s"][1]) == [1, 3]
    assert sorted(new["m"][1]) == [["b", 5], ["c", 9]]
    assert "o" not in new and "i" not in new  # back at their defaults


def test_clock_beyond_the_write_history_is_a_problem():
    writes = copy.deepcopy(WRITES)
    del writes["txns"][5:]  # the history stops at txn 5; the client saw 6
    rep = run(good_events(), writes=writes)
    assert rep.problems and not rep.valid
