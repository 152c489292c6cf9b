"""Pure parts of a campaign: workload transactions and reply reading, the pictures,
the report, exit codes."""

from __future__ import annotations

import random

import pytest

from harness.campaign import exit_code, parse_args
from harness.checkers import CheckContext, LatencyPlot, Timeline
from harness.checkers.spans import fault_bands, op_spans
from harness.history import Recorder
from harness.report import render
from harness.workloads import make_workload
from harness.workloads.base import decode_set
from harness.workloads.ops import OpSpec


def test_same_seed_same_ops_per_worker():
    w = make_workload("cas-register", keys=3)

    def ops(seed):
        rng = random.Random(f"{seed}:worker:2")
        return [w.generate(rng, 2) for _ in range(50)]
    assert ops(5) == ops(5)
    assert ops(5) != ops(6)


def test_register_write_with_prerequisite_and_reading_replies():
    w = make_workload("register", keys=2, prereq=True, sync_reads=True)
    seen = {"k0": 17}
    txn = w.txn(OpSpec("write", "k0", 5), seen)
    assert txn[0]["op"] == "wait" and txn[0]["rows"] == [{"value": 17}]
    assert txn[0]["timeout"] == 0 and txn[1]["row"] == {"value": 5}
    assert w.interpret(OpSpec("write", "k0", 5), [{}, {"count": 1}]).type == "ok"
    # The wait failed: certainly no effect.
    out = w.interpret(OpSpec("write", "k0", 5),
                      [{"error": "timed out", "details": "..."}, None])
    assert (out.type, out.error) == ("fail", "timed out")
    # An error we cannot vouch for is indeterminate.
    assert w.interpret(OpSpec("write", "k0", 5), [{"error": "commit failed"}]).type == "info"
    read = w.txn(OpSpec("read", "k1"), seen)
    assert [op["op"] for op in read] == ["select", "mutate"]  # a read through Raft
    out = w.interpret(OpSpec("read", "k1"), [{"rows": [{"value": 9}]}, {"count": 1}])
    assert (out.type, out.value) == ("ok", 9)
    assert w.interpret(OpSpec("read", "k1"), [{"rows": []}, {"count": 0}]).type == "info"
    w.observe(OpSpec("read", "k1"), out, seen)
    assert seen["k1"] == 9
    plain = make_workload("register", keys=2)
    assert [op["op"] for op in plain.txn(OpSpec("write", "k0", 1), {})] == ["update"]
    assert [op["op"] for op in plain.txn(OpSpec("read", "k0"), {})] == ["select"]


def test_cas_binds_old_value_at_run_time():
    w = make_workload("cas-register", keys=1)
    op = w.bind(OpSpec("cas", "k0", [None, 42]), {"k0": 3})
    assert op.value == [3, 42]
    txn = w.txn(op, {})
    assert txn[0]["rows"] == [{"value": 3}] and txn[1]["row"] == {"value": 42}


def test_counter_and_set_transactions():
    c = make_workload("counter")
    assert c.txn(OpSpec("add", "k0", 3), {})[0]["mutations"] == [["value", "+=", 3]]
    s = make_workload("set")
    assert s.txn(OpSpec("add", "k0", 8), {})[0]["mutations"] == [
        ["elems", "insert", ["set", [8]]]]
    out = s.interpret(OpSpec("read", "k0"), [{"rows": [{"elems": ["set", [3, 1]]}]}])
    assert out.value == [1, 3]
    assert decode_set(7) == [7]  # a one-element set is the bare atom on the wire
    with pytest.raises(ValueError, match="unknown workload"):
        make_workload("nope")


def _history():
    ticks = iter(range(0, 10**12, 10**8))
    rec = Recorder(clock=lambda: next(ticks))
    rec.invoke(0, "write", 1, key="k0")
    rec.ok(0)
    rec.event("start-kill", {"id": 0, "text": "kill n1"})
    rec.invoke(1, "read", None, key="k0")
    rec.info(1, error="timeout")
    rec.event("stop-kill", {"id": 0, "status": "done"})
    rec.invoke(6, "read", None, key="k0")
    return rec.ops


def test_report_spans_bands_and_html(tmp_path):
    ops = _history()
    spans = op_spans(ops)
    assert [(s["process"], s["type"]) for s in spans] == [(0, "ok"), (1, "info"), (6, "info")]
    bands = fault_bands(ops)
    assert len(bands) == 1 and bands[0]["label"] == "kill n1"
    assert bands[0]["start"] < bands[0]["end"]
    # The pictures are checkers: they write their files and always pass.
    ctx = CheckContext(out=tmp_path)
    pictures = {c.name: c.check(ops, ctx).to_dict() for c in (Timeline(5), LatencyPlot())}
    assert all(p["validity"] == "valid" and p["picture"] for p in pictures.values())
    from PIL import Image

    from harness.checkers.timeline import WIDTH
    with Image.open(tmp_path / "latency.png") as im:  # the timeline's width: one time axis
        assert im.size[0] == WIDTH and len(im.convert("RGB").getcolors(1 << 20)) > 10
    results = {"seed": 3, "workload": "register", "target": "ovsdb-server", "nodes": 1,
               "workers": 5, "checkers": {"linearizability": {
                   "verdict": "not-linearizable", "validity": "invalid", "summary": "x",
                   "html": "linear.html"}, **pictures},
               "faults": [{"id": 0, "start": 0.2, "duration": 0.1, "text": "kill n1",
                           "status": "done"}], "command": "crucible campaign --seed 3"}
    page = render(results, ops, tmp_path)
    assert "not-linearizable" in page and 'href="linear.html"' in page
    assert "data:image/png;base64," in page and "<svg" in page and "kill n1" in page
    # Pictures are not verdicts.
    assert "<th>timeline</th>" not in page and "<th>latency</th>" not in page


def test_report_speaks_plain_words_and_shows_the_lies(tmp_path):
    # Mutations seen to fail: the counts printed as a dict (the old ``{'ok': 955}``);
    # the lies table left out; lie-told events drawn as a client row instead of a line.
    ticks = iter(range(0, 10**12, 10**8))
    rec = Recorder(clock=lambda: next(ticks))
    rec.invoke(0, "write", 1, key="k0")
    rec.event("lie-told", {"node": "n1", "lie": "fake_ack", "conn": 1,
                           "told": "acknowledged a write it never forwarded (request 7)"},
              process="proxy")
    rec.ok(0)
    ops = rec.ops
    svg = Timeline(2).check(ops, CheckContext(out=tmp_path))
    assert svg.validity == "valid"
    drawn = (tmp_path / "timeline.svg").read_text()
    assert "lie: fake_ack" in drawn and ">proxy</text>" not in drawn
    results = {"seed": 3, "workload": "register", "target": "ovsdb-server", "nodes": 1,
               "workers": 5, "counts": {"ok": 955, "info": 2, "skipped": 4, "fail": 0},
               "lie": {"kind": "fake_ack", "armed": 3, "told": [{}]},
               "checkers": {"linearizability": {"verdict": "linearizable",
                                                "validity": "valid", "summary": "ok"}}}
    page = render(results, ops, tmp_path)
    assert "{'ok'" not in page and "955 ok" in page and "0 fail" not in page
    assert "skipped (planned but never sent" in page
    assert "acknowledged a write it never forwarded (request 7)" in page
    verdicts = page.split("<table class='verdicts'>")[1].split("</table>")[0]
    assert verdicts.count("<tr>") == 2  # one line per verdict: the checker, the self-test


def test_exit_codes():
    assert exit_code({"linearizability": {"verdict": "linearizable"},
                      "check-cluster": {"verdict": "ok"}}) == 0
    assert exit_code({"linearizability": {"verdict": "not-linearizable"}}) == 1
    assert exit_code({"linearizability": {"verdict": "linearizable"},
                      "check-cluster": {"verdict": "failed"}}) == 1
    assert exit_code({"linearizability": {"verdict": "unknown"}}) == 2
    # A checker's validity decides, whatever its own word for it.
    assert exit_code({"monitor": {"verdict": "failed", "validity": "invalid"},
                      "timeline": {"verdict": "valid", "validity": "valid"}}) == 1
    assert exit_code({"monitor": {"verdict": "error", "validity": "unknown"}}) == 2
    assert exit_code({"timeline": {"validity": "valid"}}) == 0


def test_parse_args_expands_nemesis_groups():
    cfg = parse_args(["--nemesis", "process,partition-one", "--nodes", "3", "--seed", "9"])
    assert cfg.nemesis == ["kill", "pause", "partition-one"]
    assert (cfg.nodes, cfg.seed, cfg.prereq) == (3, 9, None)


def test_seed_lists_and_rerun_commands(tmp_path):
    from pathlib import Path

    from harness.campaign import _argv_for_seed, parse_seeds, worst_exit
    assert parse_seeds("1-3,7") == [1, 2, 3, 7]
    with pytest.raises(ValueError, match="bad --seeds"):
        parse_seeds("a-b")
    argv = ["--nodes", "3", "--seeds", "1-10", "--out=o", "--seed", "4", "--time", "9"]
    assert _argv_for_seed(argv, 5, Path("o/seed-5")) == [
        "--nodes", "3", "--time", "9", "--seed", "5", "--out", "o/seed-5"]
    assert worst_exit([0, 2, 1]) == 1 and worst_exit([0, 3, 1]) == 3
    assert worst_exit([0, 2]) == 2 and worst_exit([0, 0]) == 0


def test_campaign_refuses_to_replace_a_directory_that_is_not_a_campaign(tmp_path):
    from harness.campaign import CampaignConfig, run_campaign
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="does not hold a campaign"):
        run_campaign(CampaignConfig(out=tmp_path, progress=False))
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_every_workload_names_its_checkers_and_the_monitor_one_heals_before_settling():
    import asyncio

    from harness.workloads import WORKLOADS, RunEnv

    for name in WORKLOADS:
        names = [c.name for c in make_workload(name).checkers()]
        judge = {"monitor": "monitor", "list-append": "elle"}.get(name, "linearizability")
        assert names == [judge, "timeline", "latency"], (name, names)
    env = RunEnv(db="Crucible", remotes={"n1": "tcp:127.0.0.1:1"},
                 direct={"n1": "tcp:127.0.0.1:2"}, seed=4, workers=5)
    monitor = make_workload("monitor")
    cfg = monitor.configure(env)
    assert (cfg.seed, cfg.clients, cfg.writers) == (4, 3, 2)
    # The campaign sets its quiesce (stop the nemesis, heal) after set-up: the
    # workload must call the one in force when its writers are done.
    healed: list[bool] = []

    async def quiesce() -> None:
        healed.append(True)

    env.quiesce = quiesce
    assert cfg.before_settle is not None
    asyncio.run(cfg.before_settle())
    assert healed == [True]


def test_timeline_leader_row_from_target_events(tmp_path):
    # Mutation seen to fail: leader_spans ignoring the "target" process's events.
    from harness.checkers.spans import time_end
    from harness.checkers.timeline import leader_spans
    ticks = iter(range(0, 10**12, 10**9))
    rec = Recorder(clock=lambda: next(ticks))
    rec.event("leader", {"leader": "n1", "term": 1}, process="target")
    rec.invoke(0, "write", 1, key="k0")
    rec.ok(0)
    rec.event("leader", {"leader": None, "term": 2}, process="target")
    rec.event("leader", {"leader": "n3", "term": 2}, process="target")
    spans = leader_spans(rec.ops)
    assert [(s["leader"], s["term"]) for s in spans] == [("n1", 1), (None, 2), ("n3", 2)]
    assert spans[0]["end"] == spans[1]["start"] and spans[-1]["end"] == time_end(rec.ops)
    Timeline(1).check(rec.ops, CheckContext(out=tmp_path))
    svg = (tmp_path / "timeline.svg").read_text()
    assert "leader/term" in svg and "<title>n1 t1</title>" in svg
    assert "<title>no leader t2</title>" in svg and ">target</text>" not in svg


def test_captions_never_overlap_and_stay_on_the_picture():
    # Mutation seen to fail: every caption on line 0 (the old staggering by count).
    from harness.checkers.spans import label_lines
    marks = [(t, t, "lie: stale_read") for t in (1.0, 1.05, 1.1, 1.15, 5.0)]
    lines = label_lines(marks, 10.0, 1000.0, 6.0)
    assert lines[:3] == [0, 1, 2] and lines[3] is None  # no room left: no caption
    assert lines[4] == 0  # far enough along to reuse the first line
    # One that would run off the right edge runs leftwards from its end instead.
    from harness.checkers.spans import runs_left
    assert runs_left(8.5, "x" * 30, 10.0, 1000.0, 6.0)
    assert not runs_left(1.0, "x" * 30, 10.0, 1000.0, 6.0)
    assert label_lines([(9.9, 9.9, "x" * 30)], 10.0, 1000.0, 6.0) == [0]
