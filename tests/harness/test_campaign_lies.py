"""A campaign whose client proxies lie about a correct server must fail: the checker
earns its pass verdicts by catching these (the same campaigns without a lie pass, see
test_campaign_cluster.py and test_campaign_reference.py)."""

from __future__ import annotations

import html

import pytest

from harness.campaign import CampaignConfig, main, run_campaign
from harness.history import read_jsonl


@pytest.mark.parametrize("lie", ["fake_ack", "stale_read"])
def test_lying_proxy_makes_the_campaign_fail(tmp_path, lie):
    cfg = CampaignConfig(target="ovsdb-server", workload="register", nodes=1, time_s=5.0,
                         seed=1, out=tmp_path / lie, workers=4, keys=2, lie=lie,
                         lie_count=10, progress=False)
    results = run_campaign(cfg)
    assert results["lie"]["told"], "the lie was never told: the test proves nothing"
    lin = results["checkers"]["linearizability"]
    assert lin["verdict"] == "not-linearizable", lin["summary"]
    assert results["exit"] == 1
    assert (cfg.out / "linear.html").exists()


def test_campaign_cli_rejects_bad_arguments(capsys):
    assert main(["--workload", "nope"]) == 3
    assert main(["--nemesis", "bogus"]) == 3
    assert "unknown nemesis 'bogus'" in capsys.readouterr().err


def test_monitor_workload_campaign_catches_a_dropped_update(tmp_path):
    # Three drops, spread out: one alone can be invisible to any client, and so rightly
    # pass (a later update writes the same columns of the same row again before the
    # replica is compared, or the client reconnects and resyncs first); one CI run
    # dropped such an update and every property held.
    cfg = CampaignConfig(target="ovsdb-server", workload="monitor", nodes=1, time_s=4.0,
                         seed=2, out=tmp_path / "mon", workers=5, lie="drop_update",
                         lie_count=3, progress=False)
    results = run_campaign(cfg)
    assert results["lie"]["told"]
    mon = results["checkers"]["monitor"]
    assert mon["verdict"] == "failed", mon["summary"]
    # A missing update is a gap: "reliable", or "condition" when it is the update a
    # condition change caused (harness.checkers.monitor defines a gap in that window
    # as a condition fault).  Which update is dropped depends on timing.
    props = mon["properties"]
    assert not props["reliable"]["ok"] or not props["condition"]["ok"], props
    assert results["exit"] == 1
    # The checker read everything from the history, and the report shows what failed
    # from it: the property, client and row, and the history events that show it.
    assert not (cfg.out / "monitor.json").exists()
    ops = read_jsonl(cfg.out / "history.jsonl")
    by_index = {op.index: op for op in ops}
    assert {op.f for op in ops if op.process == "m0"} >= {"monitor", "update"}
    gaps = [f for f in mon["failures"] if f["what"] in ("reliable", "condition")]
    assert gaps and all(f["client"] and f["events"] for f in gaps)
    first = gaps[0]
    assert all(i in by_index for i in first["events"])
    assert any(by_index[i].process == first["client"] for i in first["events"])
    page = (cfg.out / "report.html").read_text()
    assert "monitor: what failed" in page and html.escape(first["message"]) in page
    assert f'id="ev{first["events"][0]}"' in page


def test_monitor_campaign_lies_on_the_writers_link_too(tmp_path):
    # The campaign's proxy sits in front of the writers as well as the monitors, so a
    # faked ack reaches a writer and the writers' side of the monitor check catches
    # it.  Mutation seen to fail: the writers dialling env.direct again.
    cfg = CampaignConfig(target="ovsdb-server", workload="monitor", nodes=1, time_s=4.0,
                         seed=3, out=tmp_path / "ack", workers=4, lie="fake_ack",
                         lie_count=3, progress=False)
    results = run_campaign(cfg)
    assert results["lie"]["told"], "the lie was never told: the test proves nothing"
    mon = results["checkers"]["monitor"]
    assert mon["verdict"] == "failed", mon["summary"]
    assert not mon["properties"]["acknowledged"]["ok"], mon["properties"]
    assert results["exit"] == 1
