"""The sans-I/O Liar, message by message: each lie, when it fires, and what it leaves
alone.  Through sockets: test_proxy.py; against a real ovsdb-server: test_bug_zoo.py."""

from __future__ import annotations

import copy

from harness.liar import LIES, Liar


def upd3(n: int, table: str = "Item") -> dict:
    return {"id": None, "method": "update3",
            "params": [["m"], f"txn{n}", {table: {f"u{n}": {"insert": {"value": n}}}}]}


def feed(liar: Liar, msgs: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    out = []
    for d, m in msgs:
        out += liar.on_message(1, d, copy.deepcopy(m))
    return out


def test_liar_without_lies_passes_everything():
    liar = Liar()
    msgs = [("s2c", upd3(i)) for i in range(5)] + [("c2s", {"id": 1, "method": "echo",
                                                             "params": []})]
    assert feed(liar, msgs) == msgs
    assert liar.told == []


def test_liar_drop_update_skips_then_drops_one():
    liar = Liar()
    liar.arm("drop_update", skip=1)
    out = feed(liar, [("s2c", upd3(1, "Cell")), ("s2c", upd3(2)), ("s2c", upd3(3)),
                      ("s2c", upd3(4))])
    assert [m["params"][1] for _, m in out] == ["txn1", "txn2", "txn4"]
    assert [t["lie"] for t in liar.told] == ["drop_update"]


def test_liar_reorder_updates():
    liar = Liar()
    liar.arm("reorder_updates")
    out = feed(liar, [("s2c", upd3(1)), ("s2c", upd3(2)), ("s2c", upd3(3))])
    assert [m["params"][1] for _, m in out] == ["txn2", "txn1", "txn3"]


def test_liar_reorder_flushes_a_lonely_update():
    liar = Liar()
    liar.arm("reorder_updates")
    assert liar.on_message(1, "s2c", upd3(1), now=10.0) == []
    assert liar.flush(1, 10.5, hold_s=2.0) == []
    assert [m["params"][1] for _, m in liar.flush(1, 12.5, hold_s=2.0)] == ["txn1"]


def test_liar_duplicate_update():
    liar = Liar()
    liar.arm("duplicate_update")
    out = feed(liar, [("s2c", upd3(1)), ("s2c", upd3(2))])
    assert [m["params"][1] for _, m in out] == ["txn1", "txn1", "txn2"]


def test_liar_add_row():
    liar = Liar(seed=3)
    liar.arm("add_row", row={"name": "zz", "value": -1, "tag": "nope"})
    out = feed(liar, [("s2c", upd3(1))])
    rows = out[0][1]["params"][2]["Item"]
    assert len(rows) == 2
    extra = [v for k, v in rows.items() if k != "u1"]
    assert extra == [{"insert": {"name": "zz", "value": -1, "tag": "nope"}}]


def _select(rid: int) -> dict:
    return {"id": rid, "method": "transact",
            "params": ["Crucible", {"op": "select", "table": "Cell",
                                    "where": [["key", "==", "k"]], "columns": ["value"]}]}


def _rows(rid: int, v: int) -> dict:
    return {"id": rid, "result": [{"rows": [{"value": v}]}], "error": None}


def test_liar_stale_read_replays_an_earlier_different_reply():
    liar = Liar()
    liar.arm("stale_read")
    out = feed(liar, [("c2s", _select(1)), ("s2c", _rows(1, 5)),
                      ("c2s", _select(2)), ("s2c", _rows(2, 5)),   # same: nothing stale
                      ("c2s", _select(3)), ("s2c", _rows(3, 7)),   # replaced by 5
                      ("c2s", _select(4)), ("s2c", _rows(4, 8))])  # lie used up
    replies = [m for d, m in out if d == "s2c"]
    assert [r["result"][0]["rows"][0]["value"] for r in replies] == [5, 5, 5, 8]
    assert [r["id"] for r in replies] == [1, 2, 3, 4]
    assert [t["lie"] for t in liar.told] == ["stale_read"]


def test_liar_fake_ack_answers_a_write_itself():
    liar = Liar()
    liar.arm("fake_ack", table="Cell")
    write = {"id": 9, "method": "transact",
             "params": ["Crucible", {"op": "update", "table": "Cell",
                                     "where": [["key", "==", "k"]], "row": {"value": 3}},
                        {"op": "insert", "table": "Cell", "row": {"key": "z"}}]}
    out = feed(liar, [("c2s", _select(1)), ("c2s", write), ("c2s", dict(write, id=10))])
    assert [(d, m["id"]) for d, m in out] == [("c2s", 1), ("s2c", 9), ("c2s", 10)]
    fake = out[1][1]
    assert fake["error"] is None and fake["result"][0] == {"count": 1}
    assert fake["result"][1]["uuid"][0] == "uuid"


def test_every_lie_is_known():
    assert set(LIES) == {"drop_update", "reorder_updates", "duplicate_update", "add_row",
                         "stale_read", "fake_ack", "split_txn", "reorder_commits"}


def _appends(rid: int, *keys: str) -> dict:
    ops = []
    for k in keys:
        ops += [{"op": "wait", "table": "ListA", "where": [["key", "==", k]], "timeout": 0,
                 "columns": ["elems"], "until": "==", "rows": []},
                {"op": "insert", "table": "ListA", "row": {"key": k}}]
    return {"id": rid, "method": "transact", "params": ["Crucible", *ops]}


def test_liar_split_txn_sends_the_rest_later_and_answers_once():
    liar = Liar()
    liar.arm("split_txn", hold_s=0.5)
    out = liar.on_message(1, "c2s", _appends(7, "a", "b"), now=1.0)
    assert [(d, m["id"], len(m["params"]) - 1) for d, m in out] == [("c2s", 7, 2)]
    first = {"id": 7, "result": [{}, {"uuid": ["uuid", "u1"]}], "error": None}
    assert liar.on_message(1, "s2c", first, now=1.1) == []  # held until the rest is done
    assert liar.flush(1, 1.2) == []
    (d, second), = liar.flush(1, 1.7)
    assert d == "c2s" and second["params"][1:] == _appends(0, "b")["params"][1:]
    reply = {"id": second["id"], "result": [{}, {"uuid": ["uuid", "u2"]}], "error": None}
    (d, merged), = liar.on_message(1, "s2c", reply, now=1.8)
    assert d == "s2c" and merged["id"] == 7 and len(merged["result"]) == 4
    assert [t["lie"] for t in liar.told] == ["split_txn"]
    # One write only: nothing to split.
    assert liar.on_message(1, "c2s", _appends(8, "c"), now=2.0)[0][1]["id"] == 8


def test_liar_reorder_commits_acks_then_sends_after_another_write():
    liar = Liar()
    liar.arm("reorder_commits")
    (d, ack), = liar.on_message(1, "c2s", _appends(3, "a"), now=1.0)
    assert d == "s2c" and ack["id"] == 3 and ack["result"][0] == {}
    assert liar.flush(1, 1.1) == []  # no other write answered yet
    # A write to the same row does not count: it would break the held one's guard.
    assert liar.on_message(2, "c2s", _appends(4, "a"), now=1.2)[0][1]["id"] == 4
    done = {"id": 4, "result": [{}, {"uuid": ["uuid", "u"]}], "error": None}
    assert liar.on_message(2, "s2c", done, now=1.3) == [("s2c", done)]
    assert liar.flush(1, 1.35) == []
    # A transaction that reads its row and writes another one does.
    reads_a = _appends(5, "b")
    reads_a["params"].append({"op": "select", "table": "ListA",
                              "where": [["key", "==", "a"]]})
    assert liar.on_message(2, "c2s", reads_a, now=1.2)[0][1]["id"] == 5
    done = {"id": 5, "result": [{}, {"uuid": ["uuid", "u"]}, {"rows": []}], "error": None}
    assert liar.on_message(2, "s2c", done, now=1.3) == [("s2c", done)]
    (d, late), = liar.flush(1, 1.4)
    assert d == "c2s" and late["params"] == _appends(3, "a")["params"]
    # Its real reply goes nowhere: the client had its answer long ago.
    assert liar.on_message(1, "s2c", {"id": late["id"], "result": [], "error": None},
                           now=1.5) == []


def test_liar_spreads_repeated_lies():
    liar = Liar()
    liar.arm("drop_update", count=2, skip=1, every=3)
    out = feed(liar, [("s2c", upd3(i)) for i in range(1, 9)])
    # eligible #2 dropped, then every third one: #5; the count is then used up.
    assert [m["params"][1] for _, m in out] == ["txn1", "txn3", "txn4", "txn6", "txn7",
                                                "txn8"]


def test_liar_fake_ack_leaves_reads_alone():
    liar = Liar()
    liar.arm("fake_ack")
    sync_read = {"id": 3, "method": "transact",
                 "params": ["Crucible", {"op": "select", "table": "Cell", "where": []},
                            {"op": "mutate", "table": "Cell", "where": [],
                             "mutations": [["ticks", "+=", 1]]}]}
    assert feed(liar, [("c2s", sync_read)]) == [("c2s", sync_read)]
    assert liar.told == []


def test_liar_can_pick_updates_by_row_operation():
    liar = Liar()
    liar.arm("drop_update", op="delete")
    delete = {"id": None, "method": "update2",
              "params": [["m"], {"Item": {"u9": {"delete": None}}}]}
    out = feed(liar, [("s2c", upd3(1)), ("s2c", delete), ("s2c", upd3(2))])
    assert [m["method"] for _, m in out] == ["update3", "update3"]
