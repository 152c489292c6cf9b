"""Anomalies of the real ovsdb-server 3.1 cluster that the harness found (slow: run with
--run-slow; these reproduce a finding, they are not requirements of our code).

Duplicate execution after a leadership change: right after the links between members
come back (here: the delay relays are removed, which drops every Raft connection), a
transaction sent to the leader can be executed twice: its first execution commits, and
the server reports the result of a second execution against the state that already
includes the first (for an insert into an indexed column: "constraint violation", the
"existing" row being the one this very transaction inserted).  A client told that its
insert failed, while the row is there, sees a non-linearizable history.  In about one
try in five the same moment instead leaves the transaction unanswered for a minute.

Lost and duplicated increments: a counter campaign (blind ``mutate value += n`` adds,
reads committed through Raft) whose nemesis aborts the members' Raft connections
(``reset``) with an op timeout long enough for the late replies (10 s) ends with final
counts below the sum of acknowledged adds (acknowledged writes lost) or above it with no
indeterminate add (an add applied twice); the checker reports it not linearizable.
Seen in 2 of 4 seeds with resets and 4 of 5 with link delay (removing the delay relays
drops every Raft connection), not in every run; with the default 2 s
timeout the affected adds are indeterminate and the history stays linearizable.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from harness.campaign import CampaignConfig, run_campaign
from harness.client import Client, RpcTimeout
from harness.nemesis.schedule import parse_kinds
from harness.targets.netns import available as netns_available
from harness.targets.ovsdb_server import OvsdbCluster
from tests.harness.test_targets import SCHEMA

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not netns_available()[0], reason="needs namespaces")]


async def _insert(remote: str, key: str, timeout: float) -> list:
    client = await Client.connect(remote, 2)
    try:
        return await client.transact("Crucible", [
            {"op": "insert", "table": "Cell", "row": {"key": key, "value": 1}}], timeout)
    finally:
        await client.close()


def _one_try(workdir) -> str:
    target = OvsdbCluster(workdir=workdir, schema=SCHEMA, n=3)
    try:
        target.setup()
        target.start_all()
        asyncio.run(_insert(target.remote("n1"), "a", 10))
        target.delay(20)
        time.sleep(2)
        asyncio.run(_insert(target.remote("n1"), "d", 15))
        target.heal()
        try:
            res = asyncio.run(_insert(target.remote("n1"), "e", 20))
        except RpcTimeout:
            return "held"
        if len(res) > 1 and isinstance(res[1], dict) and \
                res[1].get("error") == "constraint violation" and \
                "inserted by this transaction" in res[1].get("details", ""):
            return "duplicate"
        return "ok"
    finally:
        target.teardown()


def test_ovs_executes_a_transaction_twice_after_a_leadership_change(tmp_path):
    outcomes = []
    for i in range(12):  # bounded: each try is about 10 s (30 s when the write is held)
        outcomes.append(_one_try(tmp_path / f"try{i}"))
        if "duplicate" in outcomes:
            break
    assert "duplicate" in outcomes, outcomes


def test_ovs_loses_or_duplicates_acknowledged_increments_when_raft_links_break(tmp_path):
    verdicts = []
    for seed in (51, 52, 53, 54, 61, 64):  # bounded; each showed it at least once
        cfg = CampaignConfig(target="ovsdb-server", workload="counter", nodes=3,
                             time_s=25.0, seed=seed, out=tmp_path / f"s{seed}",
                             nemesis=parse_kinds("delay,reset"), op_timeout=10.0,
                             progress=False)
        results = run_campaign(cfg)
        assert results["checkers"]["check-cluster"]["verdict"] == "ok"
        verdicts.append(results["checkers"]["linearizability"]["verdict"])
        if verdicts[-1] == "not-linearizable":
            break
    assert "not-linearizable" in verdicts, verdicts
