"""The linearizability checker: generated good histories pass, planted bugs fail, and
hand-written cases pin down the semantics (real-time order, info, fail, each model)."""

from __future__ import annotations

import pytest

from harness.history import HistoryError, Op
from harness.linear import LINEARIZABLE, NOT_LINEARIZABLE, UNKNOWN, check, write_html
from harness.linear.bitset import add, contains, count, from_iter, members, remove
from harness.linear.generate import plant_violation, simulate

MODELS = ["register", "cas-register", "kv", "counter", "set", "ovsdb-row"]


def h(*events) -> list[Op]:
    """Events as (process, type, f, value[, key]) in real-time order."""
    out = []
    for i, e in enumerate(events):
        proc, typ, f, value = e[:4]
        out.append(Op(i, i * 10, proc, typ, f, value, e[4] if len(e) > 4 else None, line=i + 1))
    return out


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("seed", range(6))
def test_generated_histories_are_linearizable(model, seed):
    keys = 4 if model in ("kv", "ovsdb-row") else 1
    hist = simulate(model, clients=5, ops=60, info=8, keys=keys, seed=seed)
    r = check(hist, model)
    assert r.verdict == LINEARIZABLE, r.summary()
    assert r.failure is None
    assert sum(len(p.ops) for p in r.partitions) > 0


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("seed", range(6))
def test_planted_violations_are_found(model, seed):
    keys = 4 if model in ("kv", "ovsdb-row") else 1
    hist = plant_violation(simulate(model, clients=5, ops=60, info=8, keys=keys, seed=seed), model)
    r = check(hist, model)
    assert r.verdict == NOT_LINEARIZABLE, r.summary()
    # the op that cannot be placed is the planted read, the last op of the history
    blocked = r.operations[r.failure.blocked]
    assert blocked.f == "read" and blocked.return_index == hist[-1].index


def test_stale_read():
    hist = h((0, "invoke", "write", 1), (0, "ok", "write", 1),
             (1, "invoke", "write", 2), (1, "ok", "write", 2),
             (2, "invoke", "read", None), (2, "ok", "read", 1))
    r = check(hist, "register")
    assert r.verdict == NOT_LINEARIZABLE
    assert [r.operations[i].f for i in r.failure.linearization] == ["write", "write"]
    assert r.failure.states == ["1", "2"]
    assert r.operations[r.failure.blocked].output == 1
    d = r.details()
    assert d["failing_key"] is None and d["unplaceable_op"]["index"] == 4
    assert d["prefix_length"] == 2
    assert [x["state_after"] for x in d["linearizable_prefix_tail"]] == ["1", "2"]
    assert d["unplaceable_op"]["line"] == 5


def test_concurrent_ops_may_take_effect_in_either_order():
    hist = h((0, "invoke", "write", 1), (1, "invoke", "write", 2),
             (0, "ok", "write", 1), (1, "ok", "write", 2),
             (2, "invoke", "read", None), (2, "ok", "read", 1))
    assert check(hist, "register").verdict == LINEARIZABLE


def test_read_overlapping_a_write_sees_either_value():
    for seen in (None, 5):
        hist = h((0, "invoke", "write", 5), (1, "invoke", "read", None),
                 (1, "ok", "read", seen), (0, "ok", "write", 5))
        assert check(hist, "register").verdict == LINEARIZABLE
    hist = h((0, "invoke", "write", 5), (1, "invoke", "read", None),
             (1, "ok", "read", 6), (0, "ok", "write", 5))
    assert check(hist, "register").verdict == NOT_LINEARIZABLE


def test_info_may_take_effect_much_later():
    # the write timed out, yet a read long after it completed sees it: allowed
    hist = h((0, "invoke", "write", 7), (0, "info", "write", 7),
             (1, "invoke", "read", None), (1, "ok", "read", None),
             (2, "invoke", "read", None), (2, "ok", "read", 7))
    assert check(hist, "register").verdict == LINEARIZABLE


def test_info_may_never_take_effect():
    hist = h((0, "invoke", "write", 7), (0, "info", "write", 7),
             (1, "invoke", "read", None), (1, "ok", "read", None))
    assert check(hist, "register").verdict == LINEARIZABLE
    # ...but once seen, it cannot be unseen
    hist = h((0, "invoke", "write", 7), (1, "invoke", "read", None), (1, "ok", "read", 7),
             (2, "invoke", "read", None), (2, "ok", "read", None))
    assert check(hist, "register").verdict == NOT_LINEARIZABLE


def test_info_cannot_take_effect_before_its_call():
    hist = h((1, "invoke", "read", None), (1, "ok", "read", 7),
             (0, "invoke", "write", 7), (0, "info", "write", 7))
    assert check(hist, "register").verdict == NOT_LINEARIZABLE


def test_fail_ops_did_not_happen():
    hist = h((0, "invoke", "write", 3), (0, "fail", "write", 3),
             (1, "invoke", "read", None), (1, "ok", "read", 3))
    assert check(hist, "register").verdict == NOT_LINEARIZABLE


def test_cas_register():
    ok = h((0, "invoke", "write", 1), (0, "ok", "write", 1),
           (1, "invoke", "cas", [1, 2]), (1, "ok", "cas", [1, 2]),
           (2, "invoke", "cas", [1, 3]), (2, "fail", "cas", [1, 3]),
           (3, "invoke", "read", None), (3, "ok", "read", 2))
    assert check(ok, "cas-register").verdict == LINEARIZABLE
    bad = h((0, "invoke", "write", 1), (0, "ok", "write", 1),
            (1, "invoke", "cas", [2, 3]), (1, "ok", "cas", [2, 3]))
    assert check(bad, "cas-register").verdict == NOT_LINEARIZABLE


def test_kv_partitions_by_key():
    hist = h((0, "invoke", "write", 1, "a"), (0, "ok", "write", 1, "a"),
             (1, "invoke", "write", 2, "b"), (1, "ok", "write", 2, "b"),
             (2, "invoke", "read", None, "a"), (2, "ok", "read", 1, "a"),
             (3, "invoke", "read", None, "b"), (3, "ok", "read", 1, "b"))
    r = check(hist, "kv")
    assert r.verdict == NOT_LINEARIZABLE
    assert r.failure.key == "b"
    assert {p.key for p in r.partitions} <= {"a", "b"}


def test_counter_and_set():
    hist = h((0, "invoke", "add", 2), (1, "invoke", "add", 3), (0, "ok", "add", 2),
             (2, "invoke", "read", None), (2, "ok", "read", 5), (1, "ok", "add", 3))
    assert check(hist, "counter").verdict == LINEARIZABLE
    hist[4] = Op(4, 40, 2, "ok", "read", 4)
    assert check(hist, "counter").verdict == NOT_LINEARIZABLE
    s = h((0, "invoke", "add", "x"), (0, "ok", "add", "x"), (1, "invoke", "add", "y"),
          (2, "invoke", "read", None), (2, "ok", "read", ["y", "x"]), (1, "info", "add", "y"))
    assert check(s, "set").verdict == LINEARIZABLE
    s[4] = Op(4, 40, 2, "ok", "read", ["y"])
    assert check(s, "set").verdict == NOT_LINEARIZABLE


def test_ovsdb_row_model():
    k = "row1"
    good = h((0, "invoke", "insert", {"columns": {"v": 1, "n": 0}}, k),
             (0, "ok", "insert", {"columns": {"v": 1, "n": 0}}, k),
             (1, "invoke", "update", {"wait": {"v": 1}, "columns": {"v": 2}, "mutate": {"n": 5}}, k),
             (1, "ok", "update", {"count": 1}, k),
             (2, "invoke", "read", {}, k), (2, "ok", "read", {"v": 2, "n": 5, "_uuid": "u"}, k),
             (3, "invoke", "update", {"wait": {"v": 1}, "columns": {"v": 9}}, k),
             (3, "fail", "update", None, k),
             (4, "invoke", "delete", {}, k), (4, "ok", "delete", {"count": 1}, k),
             (5, "invoke", "update", {"columns": {"v": 3}}, k), (5, "ok", "update", {"count": 0}, k),
             (6, "invoke", "read", {}, k), (6, "ok", "read", None, k),
             (7, "invoke", "insert", {"wait": None, "columns": {"v": 4}}, k),
             (7, "ok", "insert", None, k))
    assert check(good, "ovsdb-row").verdict == LINEARIZABLE

    def mutated(i, op):
        bad = list(good)
        bad[i] = op
        return check(bad, "ovsdb-row").verdict

    # a read that misses the update; a prerequisite that held though it could not;
    # a delete that claims to have found no row; a second insert of the same name
    assert mutated(5, Op(5, 50, 2, "ok", "read", {"v": 1, "n": 0}, k)) == NOT_LINEARIZABLE
    assert mutated(7, Op(7, 70, 3, "ok", "update", None, k)) == NOT_LINEARIZABLE
    assert mutated(9, Op(9, 90, 4, "ok", "delete", {"count": 0}, k)) == NOT_LINEARIZABLE
    bad = good[:2] + h((9, "invoke", "insert", {"columns": {"v": 1}}, k),
                       (9, "ok", "insert", None, k))
    bad = [Op(i, i, o.process, o.type, o.f, o.value, o.key) for i, o in enumerate(bad)]
    assert check(bad, "ovsdb-row").verdict == NOT_LINEARIZABLE


@pytest.mark.parametrize(
    "model, events, problem",
    [
        ("cas-register", [(0, "invoke", "cas", 5), (0, "ok", "cas", 5)], "cas value must be"),
        ("register", [(0, "invoke", "frob", 5)], "has no operation 'frob'"),
        ("kv", [(0, "invoke", "read", None)], "needs a 'key'"),
        ("counter", [(0, "invoke", "add", "x")], "must be an integer"),
        ("ovsdb-row", [(0, "invoke", "update", [1], "k")], "must be an object"),
    ],
)
def test_unusable_ops_name_their_line(model, events, problem):
    with pytest.raises(HistoryError, match=problem) as e:
        check(h(*events), model)
    assert e.value.line == 1


def test_timeout_gives_unknown():
    # 22 concurrent writes of distinct values, then a read of a value nobody wrote: the
    # search must try every subset of the writes before it can say no.
    n = 22
    events = [(p, "invoke", "write", p) for p in range(n)]
    events += [(p, "ok", "write", p) for p in range(n)]
    events += [(n, "invoke", "read", None), (n, "ok", "read", -1)]
    ops = h(*events)
    # make the read overlap everything so no write is forced before it
    ops = ops[:n] + ops[-2:-1] + ops[n:-2] + ops[-1:]
    ops = [Op(i, i, o.process, o.type, o.f, o.value) for i, o in enumerate(ops)]
    r = check(ops, "register", timeout_s=0.2)
    assert r.verdict == UNKNOWN
    assert "gave up" in r.summary()


def test_html_marks_prefix_and_unplaceable_op(tmp_path):
    hist = plant_violation(simulate("cas-register", ops=30, info=4, seed=1), "cas-register")
    hist.insert(5, Op(-1, hist[5].time, "nemesis", "info", "kill", "n1"))
    hist = [Op(i, o.time, o.process, o.type, o.f, o.value, o.key) for i, o in enumerate(hist)]
    r = check(hist, "cas-register")
    assert r.verdict == NOT_LINEARIZABLE and len(r.events) == 1
    out = tmp_path / "t.html"
    write_html(r, out)
    page = out.read_text()
    assert page.count("class='blocked'") == 2  # once per axis
    assert page.count("class='lin'") == 2 * len(r.failure.linearization)
    assert "nemesis: kill n1" in page and "<script src" not in page and "http" not in \
        page.replace("http://www.w3.org/2000/svg", "")
    # As Porcupine shows it (mutations seen to fail: the time axis first; labels drawn
    # inside the scrolling SVG; values only in the hover titles): the page opens on the
    # event-order axis scrolled to the red op, the process labels sit in a pane of their
    # own, and the unplaceable op's value is written on its bar.
    assert "id='pane-time' class='pane hidden'" in page
    assert "id='pane-order' class='pane'" in page and "rect.blocked" in page
    assert page.count("<svg class='labels'") == 2
    blocked = r.operations[r.failure.blocked]
    bar = page.split("id='pane-order'")[1].split("class='blocked'")[1].split("</g>")[0]
    from harness.linear.visualize import _short
    assert f">! {_short(blocked)}</text>" in bar or f">! {_short(blocked)[:3]}" in bar, bar
    good = check(simulate("cas-register", ops=30, info=4, seed=1), "cas-register")
    write_html(good, out)
    assert "class='blocked'" not in out.read_text()


def test_bitset_helpers():
    b = from_iter([0, 3, 70])
    assert list(members(b)) == [0, 3, 70] and count(b) == 3
    assert contains(add(b, 5), 5) and not contains(remove(b, 3), 3)


@pytest.mark.parametrize("model", MODELS)
def test_dominance_pruning_changes_no_verdict(model):
    """Differential: the search with the indeterminate-op pruning (in both candidate
    orders) and the plain Lowe search agree, on histories with many info ops and one
    read result corrupted."""
    import random

    from harness.history import pair
    from harness.linear.checker import portfolio, search, search_lowe
    from harness.linear.models import get_model

    m = get_model(model)
    rng = random.Random(7)
    verdicts = set()
    for seed in range(40):
        hist = simulate(model, clients=4, ops=24, info=8, keys=1, seed=seed)
        reads = [k for k, o in enumerate(hist) if o.type == "ok" and o.f == "read"]
        if reads and seed % 4:
            k = rng.choice(reads)
            o = hist[k]
            if model == "counter":
                wrong = o.value + 1
            elif model == "set":
                wrong = [99]
            elif model == "ovsdb-row":
                wrong = rng.choice([None, {"v": 1, "n": 1}, {"v": 0, "n": 0}])
            else:
                wrong = rng.choice([0, 1, 2, "1", "x1 "])
            hist[k] = Op(o.index, o.time, o.process, "ok", "read", wrong, o.key)
        ops = [o for o in pair(hist) if o.status != "fail" and not m.no_effect(o)]
        compiled = [m.prepare(o) for o in ops]
        plain = search_lowe(ops, compiled, m)[0]
        assert search(ops, compiled, m, det_first=True)[0] == plain, seed
        assert search(ops, compiled, m, det_first=False)[0] == plain, seed
        assert portfolio(ops, compiled, m, None)[0] == plain, seed
        verdicts.add(plain)
    assert verdicts == {True, False}


def test_kv_append_and_empty_reads():
    # Porcupine's key-value shape: get/put/append, a missing key reads as ""
    hist = h((0, "invoke", "read", None, "k"), (0, "ok", "read", "", "k"),
             (1, "invoke", "append", "a", "k"), (2, "invoke", "append", "b", "k"),
             (1, "ok", "append", "a", "k"), (2, "ok", "append", "b", "k"),
             (3, "invoke", "read", None, "k"), (3, "ok", "read", "ba", "k"),
             (4, "invoke", "write", "z", "k"), (4, "ok", "write", "z", "k"),
             (5, "invoke", "append", "q", "k"), (5, "ok", "append", "q", "k"),
             (6, "invoke", "read", None, "k"), (6, "ok", "read", "zq", "k"))
    assert check(hist, "kv").verdict == LINEARIZABLE
    hist[7] = Op(7, 70, 3, "ok", "read", "ab", "k")
    hist[13] = Op(13, 130, 6, "ok", "read", "zq", "k")
    assert check(hist, "kv").verdict == LINEARIZABLE
    hist[13] = Op(13, 130, 6, "ok", "read", "", "k")
    assert check(hist, "kv").verdict == NOT_LINEARIZABLE


def test_details_are_json_ready_for_any_key():
    import orjson

    hist = h((0, "invoke", "write", 1, ["a", 1]), (0, "ok", "write", 1, ["a", 1]),
             (1, "invoke", "read", None, ["a", 1]), (1, "ok", "read", 2, ["a", 1]))
    r = check(hist, "kv")
    assert r.verdict == NOT_LINEARIZABLE and r.failure.key == ["a", 1]
    d = orjson.loads(orjson.dumps(r.details()))
    assert d["failing_key"] == ["a", 1]
    assert d["unplaceable_op"]["line"] == 3 and d["unplaceable_op"]["completion_line"] == 4


# The read pruning on append-heavy kv (checker rules 6 and 7), in Jepsen's op names.

def test_get_of_a_concurrent_append_order():
    # the get pins the order: "0" then "1"; the state "0" is a prefix of it, so it must
    # not be given up (a goal testing suffixes instead of prefixes would)
    hist = h((0, "invoke", "append", "0", "k"), (0, "ok", "append", "0", "k"),
             (1, "invoke", "append", "1", "k"), (2, "invoke", "get", None, "k"),
             (1, "ok", "append", "1", "k"), (2, "ok", "get", "01", "k"))
    assert check(hist, "kv").verdict == LINEARIZABLE


def test_a_concurrent_put_keeps_a_get_reachable():
    # after the append the state is "a", not a prefix of "xb"; but the put still to
    # come resets it, so the state must not be given up yet
    hist = h((0, "invoke", "append", "a", "k"), (0, "ok", "append", "a", "k"),
             (1, "invoke", "put", "x", "k"), (2, "invoke", "append", "b", "k"),
             (3, "invoke", "get", None, "k"),
             (1, "ok", "put", "x", "k"), (2, "ok", "append", "b", "k"),
             (3, "ok", "get", "xb", "k"))
    assert check(hist, "kv").verdict == LINEARIZABLE


def test_a_get_no_append_order_explains_is_the_blocked_op():
    hist = h((0, "invoke", "append", "0", "k"), (1, "invoke", "append", "1", "k"),
             (0, "ok", "append", "0", "k"), (1, "ok", "append", "1", "k"),
             (2, "invoke", "get", None, "k"), (2, "ok", "get", "0", "k"))
    r = check(hist, "kv")
    assert r.verdict == NOT_LINEARIZABLE
    assert r.operations[r.failure.blocked].f == "get"
    assert len(r.failure.linearization) == 2


def test_a_put_still_to_come_keeps_a_later_get_reachable():
    # the get is called after everything else returned: it is checked before it is a
    # candidate, and the put that will reset the state to "x" must be counted then
    hist = h((0, "invoke", "append", "a", "k"), (0, "ok", "append", "a", "k"),
             (1, "invoke", "put", "x", "k"), (2, "invoke", "append", "b", "k"),
             (2, "ok", "append", "b", "k"), (1, "ok", "put", "x", "k"),
             (3, "invoke", "get", None, "k"), (3, "ok", "get", "xb", "k"))
    assert check(hist, "kv").verdict == LINEARIZABLE


def test_a_cas_still_to_come_keeps_a_get_reachable():
    # a cas is a reset that is not blind: what it writes depends on the state, so the
    # get's goal cannot be tested on it; it must keep the state alive
    hist = h((0, "invoke", "append", "a", "k"), (0, "ok", "append", "a", "k"),
             (1, "invoke", "cas", ["a", "x"], "k"), (2, "invoke", "append", "b", "k"),
             (3, "invoke", "get", None, "k"),
             (1, "ok", "cas", ["a", "x"], "k"), (2, "ok", "append", "b", "k"),
             (3, "ok", "get", "xb", "k"))
    assert check(hist, "kv").verdict == LINEARIZABLE


@pytest.mark.parametrize("seed", range(4))
def test_porcupine_shaped_kv_histories(seed):
    from harness.linear.generate import simulate_kv_appends

    hist = simulate_kv_appends(clients=10, keys=3, ops=300, seed=seed)
    assert {o.f for o in hist} == {"get", "put", "append"}
    assert check(hist, "kv").verdict == LINEARIZABLE
    r = check(plant_violation(hist, "kv"), "kv")
    assert r.verdict == NOT_LINEARIZABLE
    blocked = r.operations[r.failure.blocked]
    assert blocked.f == "get" and blocked.output != "fresh"
