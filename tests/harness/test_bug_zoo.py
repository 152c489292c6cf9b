"""The bug zoo: a correct server (the real ovsdb-server 3.1, standalone) behind a lying
FaultProxy.  Each lie must be caught by the right checker, and the same run with the
proxy in lying mode but no lie armed must pass.

- monitor lies (drop, reorder, duplicate an update; add a row outside the condition)
  run the monitor workload with its clients behind the proxy and go to
  ``harness.checkers.monitor``; condition changes and reconnects are off here so each lie
  maps to exactly one property (they are exercised in test_monitor_check_workload.py).
- read/write lies (stale select reply, acknowledged-but-never-forwarded write) run a
  small sequential register recorder through the proxy and go to ``harness.linear``.
  Sequential ops make the lie certain to show: a stale read or a lost write is then
  never explainable by concurrency.
"""

from __future__ import annotations

import asyncio
import random
import shutil

import pytest

from harness.client import Client
from harness.history import Recorder
from harness.linear import LINEARIZABLE, NOT_LINEARIZABLE
from harness.linear import check as linear_check
from harness.proxy import FaultProxy
from harness.targets.server import REPO
from harness.workloads.monitor import MonitorConfig, run_monitor_workload

SCHEMA = REPO / "harness" / "schemas" / "crucible.ovsschema"

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("ovsdb-server") is None, reason="needs ovsdb-server"),
]


def _zoo_config(seed: int) -> MonitorConfig:
    # Two writers, three clients with seeded conditions (one of them plain monitor_cond,
    # so update2 as well as update3 goes through the liar).
    return MonitorConfig(seed=seed, clients=3, writers=2, txns=30, cond_changes=0,
                         reconnects=0, time_limit_s=20, settle_s=5)


async def _monitor_run(server, lie: str | None, seed: int, **params):
    events: list[tuple[str, dict]] = []
    async with FaultProxy("127.0.0.1", server.port, lying=True, seed=seed,
                          on_event=lambda name, p: events.append((name, p))) as proxy:
        if lie is not None:
            proxy.lie(lie, skip=3, table="Item", **params)
        run = await run_monitor_workload(server.remote, proxy.remote, _zoo_config(seed))
        # Every lie is an event a campaign can put in its history.
        assert [p["lie"] for n, p in events if n == "lie_told"] == \
            [t["lie"] for t in proxy.lies_told]
        return run, list(proxy.lies_told)


MONITOR_LIES = [
    # A dropped insert can never pass for a legal merge: the row is missing, or a
    # later modify or delete names a row the client never got.
    ("drop_update", "reliable", {"op": "insert"}),
    ("reorder_updates", "ordered", {}),
    ("duplicate_update", "unique", {}),
    ("add_row", "filtered", {"row": {"name": "phantom", "value": -7, "tag": "nowhere"}}),
]


@pytest.mark.parametrize("lie,prop,params", MONITOR_LIES, ids=[m[0] for m in MONITOR_LIES])
def test_monitor_lie_is_caught_by_the_right_property(ovsdb, lie, prop, params):
    run, told = asyncio.run(_monitor_run(ovsdb, lie, seed=11, **params))
    assert [t["lie"] for t in told] == [lie], "the proxy did not get to tell its lie"
    report = run.check()
    assert not report.problems, report.problems
    verdicts = report.verdicts()
    assert not verdicts[prop]["ok"], report.to_dict()
    # The lie is one wrong thing: properties it does not touch still hold (a dropped
    # insert may also leave the replica unconverged).
    allowed = {prop, "convergent"} if lie == "drop_update" else {prop}
    assert report.failed() <= allowed, report.to_dict()


def test_monitor_run_without_lie_passes(ovsdb):
    run, told = asyncio.run(_monitor_run(ovsdb, None, seed=11))
    assert told == []
    report = run.check()
    assert report.valid, report.to_dict()
    assert len(run.writes["txns"]) == 30


# -- register through the proxy, for the linearizability checker ----------------------

KEY = "zoo"


async def _register_run(server, lie: str | None, seed: int = 5, ops: int = 24):
    """Two processes take turns writing and reading one Cell row, one op at a time,
    through the proxy; returns the recorded history and the lies told."""
    rng = random.Random(seed)
    rec = Recorder()
    where = [["key", "==", KEY]]
    async with FaultProxy("127.0.0.1", server.port, lying=True, seed=seed) as proxy:
        setup = await Client.connect(server.remote)
        try:
            res = await setup.transact("Crucible", [
                {"op": "insert", "table": "Cell", "row": {"key": KEY, "value": 0}}], 10)
            assert "error" not in res[0], res
        finally:
            await setup.close()
        rec.invoke(0, "write", 0, key=KEY)
        rec.ok(0)
        if lie is not None:
            proxy.lie(lie, skip=2)
        clients = [await Client.connect(proxy.remote) for _ in range(2)]
        try:
            for i in range(ops):
                p = i % 2
                c = clients[p]
                if i % 2 == 1:  # a read after every write, so no write can hide
                    rec.invoke(p + 1, "read", None, key=KEY)
                    r = await c.transact("Crucible", [
                        {"op": "select", "table": "Cell", "where": where,
                         "columns": ["value"]}], 10)
                    rec.ok(p + 1, r[0]["rows"][0]["value"])
                else:
                    v = rng.randrange(1, 1_000_000) * 10 + i % 10
                    rec.invoke(p + 1, "write", v, key=KEY)
                    r = await c.transact("Crucible", [
                        {"op": "update", "table": "Cell", "where": where,
                         "row": {"value": v}}], 10)
                    assert r[0].get("count") == 1, r
                    rec.ok(p + 1)
        finally:
            for c in clients:
                await c.close()
        return rec.ops, list(proxy.lies_told)


@pytest.mark.parametrize("lie", ["stale_read", "fake_ack"])
def test_read_write_lie_is_caught_by_the_linearizability_checker(ovsdb, lie):
    ops, told = asyncio.run(_register_run(ovsdb, lie))
    assert [t["lie"] for t in told] == [lie]
    result = linear_check(ops, "register", timeout_s=20)
    assert result.verdict == NOT_LINEARIZABLE, result.summary()


def test_register_run_without_lie_is_linearizable(ovsdb):
    ops, told = asyncio.run(_register_run(ovsdb, None))
    assert told == []
    result = linear_check(ops, "register", timeout_s=20)
    assert result.verdict == LINEARIZABLE, result.summary()


# -- a faked ack on the writers' link, for the monitor checker's writer side ----------

async def _fake_ack_run(server, seed: int):
    """Writers through a proxy that fakes the ack of a few spaced writes (never
    forwarded), monitors straight to the server; set-up and the final read pass the
    proxy before and after the lies."""
    async with FaultProxy("127.0.0.1", server.port, lying=True, seed=seed) as proxy:
        proxy.lie("fake_ack", count=3, skip=6, every=7)
        run = await run_monitor_workload(proxy.remote, server.remote, _zoo_config(seed))
        return run, list(proxy.lies_told)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_faked_ack_on_the_writers_link_fails_the_monitor_check(ovsdb, seed):
    # Mutation seen to fail this test: check_acknowledged skipping the token lookup
    # (the writer's retry then covers the lie, as in issue 19: passed in 4 of 6 runs).
    run, told = asyncio.run(_fake_ack_run(ovsdb, seed))
    assert [t["lie"] for t in told] == ["fake_ack"] * 3, "the lie was not told"
    report = run.check()
    assert "acknowledged" in report.failed(), report.to_dict()
    faked = {t["ops"][2]["mutations"][0][2][1][0] for t in told}  # the tokens
    flagged = {v.message.split()[1] for v in report.violations if v.prop == "acknowledged"}
    assert {str(t) for t in faked} <= flagged, (faked, flagged)
    # The faked writes are left out of the write history: the streams still check.
    assert report.failed() == {"acknowledged"}, report.to_dict()
