"""Property tests: streams from a tiny ideal server always pass; planted faults fail
the property they break.

The ideal server here is written independently of the checker: it keeps the table,
computes each client's view with its own condition code, and sends, for every group
of consecutive transactions (a legal merge), the difference between the old and the
new view as update2 (insert full row, modify changed columns, delete).  Clients
change conditions and reconnect (found=false full resync, or found=true with the
missing transactions when the "server" keeps history).
"""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.checkers.monitor import check

CLK = "00000000-0000-0000-0000-0000000000cc"
TAGS = ("x", "y", "z")
CONDS = [[], [["tag", "==", "x"]], [["tag", "!=", "y"]], [["value", "<", 50]],
         [["tag", "==", "x"], ["tag", "==", "z"]]]


def in_cond(row: dict, cond: list) -> bool:
    if not cond:
        return True
    for col, fn, v in cond:
        have = row[col]
        if (fn == "==" and have == v) or (fn == "!=" and have != v) or \
                (fn == "<" and have < v):
            return True
    return False


def view(state: dict, cond: list) -> dict:
    return {u: r for u, r in state.items() if in_cond(r, cond)}


def diff(old: dict, new: dict, initial: bool = False) -> dict:
    out = {}
    for u in old.keys() - new.keys():
        out[u] = {"delete": None}
    for u, r in new.items():
        if u not in old:
            out[u] = {"initial" if initial else "insert": dict(r)}
        elif old[u] != r:
            out[u] = {"modify": {c: v for c, v in r.items() if old[u].get(c) != v}}
    return out


@st.composite
def scenario(draw):
    """A write history and one client's ideal stream, plus where the txn updates are."""
    n_txns = draw(st.integers(3, 14))
    state = {"u0": {"name": "a", "value": 1, "tag": "x"},
             "u1": {"name": "b", "value": 2, "tag": "y"}}
    initial = {"Cell": {CLK: {"key": "clock", "value": 0}}, "Item": copy.deepcopy(state)}
    states = [copy.deepcopy(state)]
    txns = []
    next_u, token = 2, 10
    for seq in range(1, n_txns + 1):
        changes = {}
        for _ in range(draw(st.integers(1, 2))):
            live = sorted(state)
            kind = draw(st.sampled_from(["insert", "update", "delete"] if live else ["insert"]))
            token += 1
            if kind == "insert":
                u = f"u{next_u}"
                next_u += 1
                row = {"name": u, "value": token, "tag": draw(st.sampled_from(TAGS))}
            else:
                u = draw(st.sampled_from(live))
                row = (None if kind == "delete" else
                       {"name": state[u]["name"], "value": token,
                        "tag": draw(st.sampled_from(TAGS))})
            if u in changes:
                continue
            changes[u] = row
            if row is None:
                state.pop(u)
            else:
                state[u] = row
        txns.append({"seq": seq, "changes": {"Item": copy.deepcopy(changes)}})
        states.append(copy.deepcopy(state))

    history = draw(st.booleans())  # does the "server" keep history for resumes?
    cond = draw(st.sampled_from(CONDS))

    def conds(c):
        return {"Cell": [["key", "==", "clock"]], "Item": c}

    def monitor(at, c, since=None, found=False, updates=None):
        cell = ({CLK: {"modify": {"value": at}}} if found
                else {CLK: {"initial": {"key": "clock", "value": at}}})
        ups = {"Cell": cell}
        items = updates if updates is not None else diff({}, view(states[at], c), True)
        if items:
            ups["Item"] = items
        return {"type": "monitor", "method": "monitor_cond_since", "cond": conds(c),
                "since": since, "found": found, "last_txn_id": f"t{at}", "updates": ups}

    events = [monitor(0, cond)]
    txn_events = []  # indexes of update events that carry a clock
    seq = 0
    while seq < n_txns:
        action = draw(st.sampled_from(["txn", "txn", "txn", "cond", "reconnect"]))
        if action == "cond":
            new = draw(st.sampled_from(CONDS))
            events.append({"type": "cond_change", "cond": {"Item": new}})
            d = diff(view(states[seq], cond), view(states[seq], new))
            if d:
                events.append({"type": "update", "updates": {"Item": d},
                               "last_txn_id": f"t{seq}"})
            events.append({"type": "cond_change_reply", "error": None})
            cond = new
        elif action == "reconnect":
            events.append({"type": "disconnect"})
            lost = draw(st.integers(0, min(2, n_txns - seq)))  # txns while away
            at = seq + lost
            if history:
                d = diff(view(states[seq], cond), view(states[at], cond))
                ev = monitor(at, cond, since=f"t{seq}", found=True, updates=d)
                if at == seq:
                    del ev["updates"]["Cell"]
                events.append(ev)
            else:
                events.append(monitor(at, cond, since=f"t{seq}"))
            seq = at
        else:
            k = draw(st.integers(1, min(3, n_txns - seq)))  # merge k transactions
            new_seq = seq + k
            ups = {"Cell": {CLK: {"modify": {"value": new_seq}}}}
            d = diff(view(states[seq], cond), view(states[new_seq], cond))
            if d:
                ups["Item"] = d
            txn_events.append(len(events))
            events.append({"type": "update", "updates": ups, "last_txn_id": f"t{new_seq}"})
            seq = new_seq
    writes = {"initial": initial, "txns": txns}
    return writes, events, txn_events


def run(writes, events):
    return check(writes, [{"client": "c", "events": events}])


SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenario())
def test_ideal_streams_pass(sc):
    writes, events, _ = sc
    rep = run(writes, events)
    assert rep.valid, (rep.to_dict(), events)


@SETTINGS
@given(scenario(), st.data())
def test_duplicated_update_fails_unique(sc, data):
    writes, events, txn_events = sc
    i = data.draw(st.sampled_from(txn_events)) if txn_events else None
    if i is None:
        return
    events = events[:i + 1] + [copy.deepcopy(events[i])] + events[i + 1:]
    assert run(writes, events).failed() == {"unique"}  # and nothing else


@SETTINGS
@given(scenario(), st.data())
def test_swapped_updates_fail_ordered(sc, data):
    writes, events, txn_events = sc
    pairs = [i for i in txn_events if i + 1 in txn_events]
    if not pairs:
        return
    i = data.draw(st.sampled_from(pairs))
    events = list(events)
    events[i], events[i + 1] = events[i + 1], events[i]
    assert run(writes, events).failed() == {"ordered"}


@SETTINGS
@given(scenario(), st.data())
def test_phantom_row_fails_filtered(sc, data):
    writes, events, txn_events = sc
    if not txn_events:
        return
    i = data.draw(st.sampled_from(txn_events))
    events = copy.deepcopy(events)
    events[i]["updates"].setdefault("Item", {})["ghost"] = {
        "insert": {"name": "ghost", "value": 999, "tag": "x"}}
    assert run(writes, events).failed() == {"filtered"}


@SETTINGS
@given(scenario(), st.data())
def test_dropped_update_fails_reliable(sc, data):
    writes, events, txn_events = sc
    # Drop an update only where the loss must show: it changed a row that nothing later
    # in the session touches again, and another update follows before the session ends
    # (a resync or a condition change would legitimately repair the row).
    candidates = []
    for i in txn_events:
        rows = set(events[i]["updates"].get("Item", {}))
        later = events[i + 1:]
        end = next((k for k, e in enumerate(later) if e["type"] != "update"
                    or "Cell" not in e["updates"]), len(later))
        rest = later[:end]
        touched = {u for e in rest for u in e["updates"].get("Item", {})}
        if rows - touched and rest:
            candidates.append(i)
    if not candidates:
        return
    i = data.draw(st.sampled_from(candidates))
    events = events[:i] + events[i + 1:]
    assert "reliable" in run(writes, events).failed()


@SETTINGS
@given(scenario(), st.data())
def test_split_transaction_fails_atomic(sc, data):
    writes, events, txn_events = sc
    # An update with two or more row changes, followed by another clocked update (so
    # the split-off part arrives before the session moves on).
    cands = [i for i in txn_events if len(events[i]["updates"].get("Item", {})) >= 2]
    if not cands:
        return
    i = data.draw(st.sampled_from(cands))
    events = copy.deepcopy(events)
    items = events[i]["updates"]["Item"]
    u = data.draw(st.sampled_from(sorted(items)))
    late = {"type": "update", "updates": {"Item": {u: items.pop(u)}}}
    events.insert(i + 1, late)
    assert "atomic" in run(writes, events).failed()


@SETTINGS
@given(scenario(), st.data())
def test_incomplete_condition_change_fails_condition(sc, data):
    writes, events, _ = sc
    # A condition change whose update has a row change: leave one out.
    cands = [i for i, e in enumerate(events)
             if e["type"] == "update" and "Cell" not in e["updates"]
             and i > 0 and events[i - 1]["type"] == "cond_change"]
    if not cands:
        return
    i = data.draw(st.sampled_from(cands))
    events = copy.deepcopy(events)
    items = events[i]["updates"]["Item"]
    del items[data.draw(st.sampled_from(sorted(items)))]
    assert "condition" in run(writes, events).failed()
