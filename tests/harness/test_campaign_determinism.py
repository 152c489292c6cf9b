"""The same seed gives the same campaign plan; another seed gives another (pure: no
servers).  A campaign's plan is the fault schedule, each worker's operations and, for
the monitor workload, its set-up rows, each client's condition and actions and each
writer's intents; the driver and the monitor clients carry out exactly these."""

from __future__ import annotations

from itertools import islice

import pytest

from harness.nemesis.schedule import parse_kinds, plan
from harness.workloads import OP_WORKLOADS, make_workload
from harness.workloads.monitor import MonitorConfig, make_plan
from harness.workloads.monitor.plan import bind

NODES = ["n1", "n2", "n3"]


def _ops(name: str, seed: int, worker: int, n: int = 60) -> list:
    return list(islice(make_workload(name, keys=3).plan(seed, worker), n))


def test_same_seed_same_fault_schedule_and_another_seed_another():
    kinds = parse_kinds("kill,pause,partition")
    assert plan(11, kinds, NODES, 30.0) == plan(11, kinds, NODES, 30.0)
    assert plan(11, kinds, NODES, 30.0) != plan(12, kinds, NODES, 30.0)


@pytest.mark.parametrize("name", sorted(OP_WORKLOADS))
def test_same_seed_same_ops_per_worker(name):
    for w in range(3):
        assert _ops(name, 11, w) == _ops(name, 11, w)
        assert _ops(name, 11, w) != _ops(name, 12, w)
    # Workers do not share a stream.
    assert _ops(name, 11, 0) != _ops(name, 11, 1)


def _monitor_plan(seed: int, **kw):
    cfg = MonitorConfig(seed=seed, clients=4, writers=2, cond_changes=2, reconnects=2,
                        change_every=3, write_pause_s=0.05, **kw)
    p = make_plan(cfg)
    intents = [list(islice(p.writer_intents(w, cfg.write_pause_s), 50))
               for w in range(cfg.writers)]
    return p, intents


def test_same_seed_same_monitor_plan_and_another_seed_another():
    a, a_intents = _monitor_plan(7)
    b, b_intents = _monitor_plan(7)
    assert a == b and a_intents == b_intents
    c, c_intents = _monitor_plan(8)
    assert a_intents != c_intents
    assert (a.initial_rows, a.clients) != (c.initial_rows, c.clients)
    # The plan does something: every client acts, within its budget.
    for client in a.clients:
        kinds = [x.kind for x in client.actions]
        assert kinds.count("cond_change") == 2 and kinds.count("reconnect") == 2
        assert [x.after for x in client.actions] == sorted(x.after for x in client.actions)
    assert [c.since for c in a.clients] == [True, True, False, True]
    # Writers' tokens are unique across writers: a row value names its write.
    tokens = [i.token for w in a_intents for i in w]
    assert len(tokens) == len(set(tokens))


def test_fixed_conditions_are_kept():
    p, _ = _monitor_plan(3, conditions=[[["tag", "==", "x"]], []])
    assert [list(c.cond) for c in p.clients] == [[["tag", "==", "x"]], [],
                                                [["tag", "==", "x"]], []]


def test_an_intent_binds_to_the_live_rows_the_same_way_every_time():
    _, intents = _monitor_plan(5)
    live = {f"u{i}": {"name": f"r{i}", "value": i, "tag": "x"} for i in range(4)}
    for intent in intents[0]:
        ops = bind(intent, live, max_rows=8)
        assert ops == bind(intent, dict(live), max_rows=8)
        assert ops and len({u for _, u, _ in ops}) == len(ops)  # a row at most once
        for kind, u, row in ops:
            assert (u in live) == (kind != "insert")
            if kind != "delete":
                assert row["value"] // 10 == intent.token  # values name their write
    # With no live row every op inserts; at max_rows none does.
    assert all(k == "insert" for i in intents[0] for k, _, _ in bind(i, {}, 8))
    assert all(k != "insert" for i in intents[0] for k, _, _ in bind(i, live, 4))
