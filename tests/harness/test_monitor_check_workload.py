"""The monitor workload end to end against the real ovsdb-server 3.1 (standalone).

Standalone ovsdb-server keeps no transaction history: every monitor_cond_since resume
gets found=false and the full contents again, and the checker must hold that to a
correct full resync.  Runs are small and bounded (transactions, time, faults).
"""

from __future__ import annotations

import asyncio
import shutil

import pytest

from harness.checkers.monitor import resolve_unknown
from harness.proxy import FaultProxy
from harness.targets.server import REPO, start_server
from harness.workloads.monitor import MonitorConfig, run_monitor_workload

SCHEMA = REPO / "harness" / "schemas" / "crucible.ovsschema"

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("ovsdb-server") is None, reason="needs ovsdb-server"),
]


def _kinds(run) -> list[str]:
    return [e["type"] for s in run.streams for e in s["events"]]


@pytest.mark.parametrize("kind,seed", [("ovsdb-server", 1), ("ovsdb-server", 2),
                                       ("reference", 1)])
def test_workload_with_condition_changes_and_resumes_checks_clean(tmp_path, kind, seed):
    server = start_server(kind, tmp_path, [SCHEMA])
    try:
        cfg = MonitorConfig(seed=seed, clients=4, writers=2, txns=50, cond_changes=2,
                            reconnects=2, change_every=3, time_limit_s=30, settle_s=10)
        run = asyncio.run(run_monitor_workload(server.remote, server.remote, cfg))
    finally:
        server.stop()
    report = run.check()
    assert report.valid, report.to_dict()
    assert len(run.writes["txns"]) == 50 and run.indeterminate == 0
    kinds = _kinds(run)
    # The run really exercised what it is meant to.
    assert kinds.count("cond_change_reply") >= 1
    assert kinds.count("disconnect") >= 1
    resumes = [e for s in run.streams for e in s["events"][1:]
               if e["type"] == "monitor" and e["method"] == "monitor_cond_since"]
    assert resumes
    if kind == "ovsdb-server":
        assert all(e["found"] is False for e in resumes)  # standalone keeps no history


def test_workload_survives_connection_resets_through_the_proxy(ovsdb):
    cfg = MonitorConfig(seed=7, clients=3, writers=2, txns=60, cond_changes=1,
                        reconnects=0, write_pause_s=0.02, time_limit_s=30, settle_s=10)

    async def main():
        async with FaultProxy("127.0.0.1", ovsdb.port) as proxy:
            work = asyncio.ensure_future(run_monitor_workload(ovsdb.remote, proxy.remote,
                                                              cfg))
            resets = 0
            for _ in range(200):  # bounded: at most 4 resets, ~10 s of polling
                await asyncio.sleep(0.05)
                if work.done() or resets >= 4:
                    break
                if proxy.connections:
                    proxy.reset()
                    resets += 1
                    await asyncio.sleep(0.1)  # let the clients resume before the next
            return await work, resets

    run, resets = asyncio.run(main())
    assert resets >= 1
    report = run.check()
    assert report.valid, report.to_dict()
    assert _kinds(run).count("disconnect") >= 1


def test_a_lost_write_history_is_reported_not_passed(ovsdb):
    cfg = MonitorConfig(seed=3, clients=2, writers=1, txns=10, cond_changes=0,
                        reconnects=0, time_limit_s=20, settle_s=5)
    run = asyncio.run(run_monitor_workload(ovsdb.remote, ovsdb.remote, cfg))
    assert run.check().valid
    del run.writes["txns"][4]
    report = run.check()
    assert not report.valid and report.problems


def test_resolve_unknown_places_lost_replies():
    init = {"a": {"name": "a", "value": 1, "tag": "x"}}
    known = {1: {"seq": 1, "changes": {"Item": {"a": {"name": "a", "value": 2, "tag": "y"}}}},
             3: {"seq": 3, "changes": {"Item": {"a": None}}}}
    unknown = [
        {"seq": 2, "plan": [("insert", "new0", {"name": "n5", "value": 5, "tag": "z"}),
                            ("update", "a", {"name": "a", "value": 6, "tag": "x"})]},
        {"seq": 3, "plan": [("delete", "a", {})]},  # lost the race to the known txn 3
        {"seq": 4, "plan": [("update", "gone", {"name": "g", "value": 7, "tag": "x"})]},
    ]
    final_rows = {"u5": {"name": "n5", "value": 5, "tag": "z"}}
    txns, problems = resolve_unknown(init, known, unknown, 4, final_rows)
    assert problems == []
    assert [t["seq"] for t in txns] == [1, 2, 3, 4]
    assert txns[1]["changes"]["Item"] == {"u5": {"name": "n5", "value": 5, "tag": "z"},
                                         "a": {"name": "a", "value": 6, "tag": "x"}}
    assert txns[3]["changes"]["Item"] == {}  # its row was already gone: no effect
    # Two lost writes both claiming the same number cannot be told apart...
    twice = unknown + [{"seq": 4, "plan": [("delete", "a", {})]}]
    _, problems = resolve_unknown(init, known, twice, 4, final_rows)
    assert problems
    # ... unless the log of committed write tokens says which one made it.
    tokened = [dict(x, token=i) for i, x in enumerate(twice)]
    txns, problems = resolve_unknown(init, known, tokened, 4, final_rows, {0, 2})
    assert problems == [] and txns[3]["changes"]["Item"] == {}
    _, problems = resolve_unknown(init, known, tokened, 4, final_rows, {0})
    assert problems  # the clock says 4 committed but no lost write's token is logged


def test_lost_write_replies_are_resolved_and_check_clean(ovsdb):
    cfg = MonitorConfig(seed=5, clients=2, writers=2, txns=120, cond_changes=0,
                        reconnects=0, write_pause_s=0.02, write_timeout_s=0.5,
                        time_limit_s=30, settle_s=10)

    async def main():
        async with FaultProxy("127.0.0.1", ovsdb.port) as proxy:
            work = asyncio.ensure_future(run_monitor_workload(proxy.remote, ovsdb.remote,
                                                              cfg))
            await _wait_for_clock(ovsdb.remote, 5, work)
            proxy.blackhole("s2c")  # writes still reach the server; replies are held
            await asyncio.sleep(1.0)
            await proxy.heal()
            return await work

    healed = []

    async def heal_before_settle() -> None:
        healed.append(True)

    cfg.before_settle = heal_before_settle

    run = asyncio.run(main())
    assert healed == [True]  # the campaign's hook ran once, before the settle
    assert run.indeterminate >= 1, run.notes
    report = run.check()
    assert report.valid, (report.to_dict(), run.notes)


def test_cluster_follower_monitors_resume_with_history(tmp_path):
    """A real 3-member cluster keeps transaction history, so resumes through a follower
    get found=true and only the missed transactions: the resumable property for real."""
    from harness.targets.ovsdb_server import OvsdbCluster

    target = OvsdbCluster(workdir=tmp_path / "cluster", schema=SCHEMA, n=3, use_netns=False)
    target.setup()
    try:
        target.start_all()
        leader = None
        for _ in range(100):  # bounded poll for an elected leader
            leader = target.leader()
            if leader:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert leader, "no leader elected"
        follower = next(n for n in target.nodes if n != leader)

        async def main():
            async with FaultProxy.for_remote(target.remote(follower)) as proxy:
                async def reset_when_quiet() -> None:
                    # ovsdb-server's history holds no more atoms than the database
                    # (old and new versions of changed rows both count), so whether a
                    # resume mid-run finds its transaction depends on how many writes
                    # came between, i.e. on timing: one CI run had every resume
                    # found=false. Once the writers are done and the clients have
                    # caught up, a resume is from the last transaction, which the
                    # follower always has.
                    await asyncio.sleep(1.0)
                    proxy.reset()
                    await asyncio.sleep(1.0)

                cfg = MonitorConfig(seed=4, clients=3, writers=2, txns=60, cond_changes=1,
                                    reconnects=2, write_pause_s=0.02, time_limit_s=30,
                                    settle_s=10, before_settle=reset_when_quiet)
                work = asyncio.ensure_future(run_monitor_workload(
                    target.remote(leader), proxy.remote, cfg))
                resets = 0
                # Resets during the writes too: resumes that may well be found=false,
                # which the checker must hold to a correct full resync.
                for _ in range(100):  # bounded: at most 3 resets
                    await asyncio.sleep(0.3)
                    if work.done() or resets >= 3:
                        break
                    if proxy.connections:
                        proxy.reset()
                        resets += 1
                return await work

        run = asyncio.run(main())
    finally:
        target.teardown()
    report = run.check()
    assert report.valid, (report.to_dict(), run.notes)
    resumes = [e for s in run.streams for e in s["events"][1:]
               if e["type"] == "monitor" and e["method"] == "monitor_cond_since"]
    assert any(e["found"] for e in resumes), "expected found=true resumes on a cluster"


def test_server_killed_and_restarted_mid_run_checks_clean(ovsdb):
    """kill -9 of a standalone server: writers lose replies, every client reconnects
    and gets a full resync from the restarted server; the run must still check."""

    cfg = MonitorConfig(seed=2, clients=3, writers=2, txns=60, cond_changes=1, reconnects=1,
                        write_pause_s=0.02, write_timeout_s=1, time_limit_s=30, settle_s=10)

    async def main():
        work = asyncio.ensure_future(run_monitor_workload(ovsdb.remote, ovsdb.remote, cfg))
        await _wait_for_clock(ovsdb.remote, 5, work)
        ovsdb.kill()
        await asyncio.to_thread(ovsdb.start)
        return await work

    run = asyncio.run(main())
    report = run.check()
    assert report.valid, (report.to_dict(), run.notes)
    assert _kinds(run).count("disconnect") >= 3  # every client lost its connection


async def _wait_for_clock(remote: str, at_least: int, work: asyncio.Future) -> None:
    """Poll (bounded) until the workload's clock row shows some committed writes."""
    from harness.client import Client

    async with await Client.connect(remote) as c:
        for _ in range(200):
            if work.done():
                return
            res = await c.transact("Crucible", [{"op": "select", "table": "Cell",
                                                 "where": [["key", "==", "clock"]],
                                                 "columns": ["value"]}], 5)
            rows = res[0].get("rows") or []
            if rows and rows[0]["value"] >= at_least:
                return
            await asyncio.sleep(0.02)
