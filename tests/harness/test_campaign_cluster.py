"""Short campaigns against 3-node Raft clusters of the real ovsdb-server and of our
reference server (members in network namespaces when root), and a standalone
ovsdb-server.

- Leader-only writers with prerequisites, reads committed through Raft, under kill,
  pause and partitions: the history must be linearizable and the Raft logs must pass
  ``ovsdb-tool check-cluster``.
- Reads through each member (followers included) while one member is cut off: OVS
  documents that such reads can be stale, and the checker must find it.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from harness.campaign import CampaignConfig, run_campaign
from harness.history import read_jsonl
from harness.nemesis.schedule import parse_kinds, plan
from harness.targets.netns import available as netns_available

_NETNS, _WHY = netns_available()
needs_root = pytest.mark.skipif(not _NETNS, reason=f"partitions need network namespaces: {_WHY}")


def _cfg(tmp_path: Path, **kw) -> CampaignConfig:
    base = dict(target="ovsdb-server", workload="register", nodes=3, time_s=25.0, seed=1,
                out=tmp_path / "out", workers=5, keys=3, progress=False,
                check_timeout=60.0)
    base.update(kw)
    return CampaignConfig(**base)


def _fault_statuses(results):
    return {f["kind"]: f["status"] for f in results["faults"]}


CLUSTERS = pytest.mark.parametrize("target", ["ovsdb-server", "reference"])


@needs_root
@CLUSTERS
def test_cluster_leader_writes_with_prerequisites_are_linearizable(tmp_path, target):
    nemesis = parse_kinds("kill,pause,partition")
    cfg = _cfg(tmp_path, nemesis=nemesis, reads="leader", seed=1, target=target)
    results = run_campaign(cfg)
    lin = results["checkers"]["linearizability"]
    assert lin["verdict"] == "linearizable", lin["summary"]
    cc = results["checkers"]["check-cluster"]
    assert cc["verdict"] == "ok", cc["output"]
    assert results["exit"] == 0
    assert results["prereq"] is True and results["sync_reads"] is True
    # The seeded schedule ran as planned: a pause, a kill and partitions, all injected.
    assert results["schedule"] == [f.to_dict() for f in plan(1, nemesis, ["n1", "n2", "n3"],
                                                              25.0)]
    statuses = _fault_statuses(results)
    assert {"pause", "kill", "partition-one", "partition-ring"} <= set(statuses)
    assert all(s == "done" for s in statuses.values()), statuses
    assert results["counts"]["ok"] > 100
    ops = read_jsonl(cfg.out / "history.jsonl")
    faults = [op.f for op in ops if op.process == "nemesis"]
    assert "start-kill" in faults and "stop-partition-ring" in faults
    for name in ("report.html", "latency.png", "results.json"):
        assert (cfg.out / name).exists()
    # Who led in which term, polled during the run, is the timeline's leader row (the
    # kill and pause may cause an election; the first poll finds n1 leading).
    leaders = [op.value for op in ops if op.process == "target" and op.f == "leader"]
    assert leaders and leaders[0]["leader"] and leaders[0]["term"] >= 1, leaders
    assert "leader/term" in (cfg.out / "timeline.svg").read_text()


@needs_root
@CLUSTERS
def test_cluster_follower_reads_are_stale_and_the_checker_finds_it(tmp_path, target):
    # Seed 13: four partitions cutting off one member each (n2, n2, n3, n2: followers, as
    # n1 created the cluster and leads) for 2-5 s while writes go on through the leader.
    # An isolated follower usually answers reads from its stale copy; but when the cut
    # falls while it holds a received, not yet committed entry, ovsdb-server 3.1 holds
    # its reads unanswered instead (seen in about one cut in five), hence four chances.
    nemesis = parse_kinds("partition-one")
    cfg = _cfg(tmp_path, nemesis=nemesis, reads="node", seed=13, time_s=25.0, workers=6,
               keys=2, target=target)
    results = run_campaign(cfg)
    lin = results["checkers"]["linearizability"]
    assert results["sync_reads"] is False
    assert lin["verdict"] == "not-linearizable", lin["summary"]
    assert "read" in lin["summary"]  # the op that could not be placed is a stale read
    assert (cfg.out / "linear.html").exists()
    assert results["exit"] == 1
    # Stale, not corrupt: Raft itself stayed consistent.
    assert results["checkers"]["check-cluster"]["verdict"] == "ok"


def test_standalone_ovsdb_server_campaign(tmp_path):
    nemesis = parse_kinds("kill,pause")
    cfg = _cfg(tmp_path, workload="set", nodes=1, time_s=10.0, seed=3, nemesis=nemesis)
    results = run_campaign(cfg)
    assert results["checkers"]["linearizability"]["verdict"] == "linearizable"
    assert "check-cluster" not in results["checkers"]
    assert results["exit"] == 0
    saved = orjson.loads((cfg.out / "results.json").read_bytes())
    assert saved["schedule"] == results["schedule"]
    assert [f["kind"] for f in saved["schedule"]] == [f.kind for f in plan(
        3, nemesis, ["n1"], 10.0)]
    page = (cfg.out / "report.html").read_text()
    assert "linearizable" in page and "data:image/png;base64," in page
