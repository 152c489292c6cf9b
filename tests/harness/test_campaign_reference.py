"""A campaign against our reference server (standalone), started through the CLI only."""

from __future__ import annotations

from harness.campaign import CampaignConfig, run_campaign
from harness.nemesis.schedule import parse_kinds


def test_reference_standalone_campaign_is_linearizable(tmp_path):
    cfg = CampaignConfig(target="reference", workload="cas-register", nodes=1, time_s=10.0,
                         seed=5, out=tmp_path / "out", workers=4, keys=3,
                         nemesis=parse_kinds("kill,pause"), progress=False)
    results = run_campaign(cfg)
    lin = results["checkers"]["linearizability"]
    assert lin["verdict"] == "linearizable", lin["summary"]
    assert results["counts"]["ok"] > 50
    # Seed 5 pauses the server for 2.6 s: ops time out (info) and the checker copes.
    assert [(f["kind"], f["status"]) for f in results["faults"]] == [("pause", "done")]
    assert results["exit"] == 0
