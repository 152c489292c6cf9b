"""Runs that test nothing must not pass, and mistakes get one clear line (issue 19).

- no time, no workers, faults that cannot happen (partitions of one node) or a run too
  short for any fault: exit 3 with the reason, before anything starts;
- faults asked for and all skipped at run time: a warning, ``no_faults_injected`` in
  results.json and the report, and the verdict line says 0 faults;
- ``--lie`` takes the README's hyphens and refuses a bad COUNT in words;
- Ctrl-C during a campaign: the load stops, faults are healed, what was recorded is
  checked, the report says "interrupted", exit 130.

CLI cases run the real command in a subprocess.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson
import pytest

from harness.campaign import (
    CampaignConfig,
    parse_args,
    parse_lie,
    run_campaign,
    verdict_line,
)
from harness.nemesis.schedule import MIN_TIME_S, parse_kinds, schedule_problem
from harness.targets.server import REPO


def crucible(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    # Wide enough that argparse does not wrap help text inside a hyphenated name.
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "400"})


def only_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    (line,) = r.stderr.strip().splitlines()
    return line


@pytest.mark.parametrize("args, line", [
    (["campaign", "--time", "0"],
     "crucible campaign: could not run: --time must be more than 0 seconds (got 0)"),
    (["campaign", "--time", "-5"],
     "crucible campaign: could not run: --time must be more than 0 seconds (got -5)"),
    (["campaign", "--workers", "0"],
     "crucible campaign: could not run: --workers must be at least 1 (got 0)"),
    (["campaign", "--nemesis", "partition", "--nodes", "1"],
     "crucible campaign: could not run: nemesis partition-one,partition-majority,"
     "partition-ring,partition-bridge cannot fault a single node (it acts between "
     "members): use --nodes 3, or a fault such as kill or pause"),
    (["demo", "--time", "5"],
     "crucible demo: could not run: --time 5 is too short for any fault (after 2 s of "
     "warm-up a fault lasts up to 5 s and must end 3 s before the end): use --time 10 or "
     "more, or --nemesis none"),
    (["demo", "--time", "0"],
     "crucible demo: could not run: --time must be more than 0 seconds (got 0)"),
    (["campaign", "--lie", "fake_ack:abc"],
     "crucible campaign: bad --lie 'fake_ack:abc': COUNT must be a whole number of at "
     "least 1"),
    (["campaign", "--lie", "fib"],
     "crucible campaign: unknown --lie 'fib': choose from drop-update, reorder-updates, "
     "duplicate-update, add-row, stale-read, fake-ack, split-txn, reorder-commits"),
])
def test_runs_that_would_test_nothing_exit_3(tmp_path, args, line):
    r = crucible(*args, "--out", str(tmp_path / "out"))
    assert r.returncode == 3
    assert only_line(r) == line
    assert not (tmp_path / "out").exists()  # refused before anything started


def test_lie_spellings():
    assert parse_lie("fake-ack") == ("fake_ack", 3)
    assert parse_lie("fake_ack:5") == ("fake_ack", 5)
    assert parse_lie("stale-read:1") == ("stale_read", 1)
    for bad in ("fake-ack:0", "fake-ack:", "fake-ack:-2"):
        with pytest.raises(ValueError, match="COUNT must be"):
            parse_lie(bad)
    cfg = parse_args(["--lie", "fake-ack:7"])
    assert (cfg.lie, cfg.lie_count) == ("fake_ack", 7)


def test_campaign_help_lists_every_fault():
    r = crucible("campaign", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    for kind in ("delay", "drop", "reset", "client-delay", "kill-leader", "fake-ack"):
        assert any(f"{kind}{end}" in text for end in ",; "), kind


def test_schedule_problem_is_about_the_first_fault_fitting():
    kinds = parse_kinds("kill,pause")
    assert schedule_problem(1, kinds, 1, MIN_TIME_S) is None  # every seed fits
    assert schedule_problem(1, [], 1, 1.0) is None  # no faults asked: nothing to miss
    assert "too short" in (schedule_problem(1, kinds, 1, 4.0) or "")
    assert schedule_problem(1, parse_kinds("partition"), 3, 20.0) is None


def test_verdict_line_counts_faults():
    base = {"exit": 0, "schedule": [{}, {}], "faults_injected": 2}
    assert verdict_line(base) == "verdict: pass with 2 faults injected"
    assert verdict_line({**base, "faults_injected": 1}) == \
        "verdict: pass with 1 fault injected (of 2 planned)"
    none = verdict_line({**base, "faults_injected": 0, "no_faults_injected": True})
    assert none.endswith("no faults injected, so nothing was tested under faults")
    assert "INTERRUPTED" in verdict_line({**base, "interrupted": True})


def test_all_faults_skipped_is_marked(tmp_path, capsys):
    # Seed 0 plans only partition-one in 10 s: on one node it is skipped, so although
    # kill could have run, no fault is injected.
    cfg = CampaignConfig(target="reference", workload="register", nodes=1, time_s=10.0,
                         seed=0, out=tmp_path / "out", workers=2, keys=2,
                         nemesis=parse_kinds("partition-one,kill"), progress=False)
    results = run_campaign(cfg)
    assert [f["status"] for f in results["faults"]] == ["skipped"]
    assert results["faults_injected"] == 0 and results["no_faults_injected"] is True
    saved = orjson.loads((cfg.out / "results.json").read_bytes())
    assert saved["no_faults_injected"] is True
    assert "0 faults injected" in saved["verdict_line"]
    assert "no faults injected" in (cfg.out / "report.html").read_text()
    assert "warning: no faults injected" in capsys.readouterr().err


def test_ctrl_c_heals_checks_reports_and_exits_130(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "campaign", "--target", "reference",
         "--workload", "register", "--nemesis", "kill,pause", "--time", "60",
         "--workers", "2", "--keys", "2", "--seed", "1", "--quiet", "--out", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        history = out / "history.jsonl"
        for _ in range(300):  # bounded: 30 s for the load to start
            if history.exists() and history.read_bytes().count(b"\n") > 30:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    results = orjson.loads((out / "results.json").read_bytes())
    assert results["interrupted"] is True
    assert results["wall_s"] < 60  # it stopped early rather than running out its time
    assert results["checkers"]["linearizability"]["verdict"] == "linearizable"
    assert not results["heal_errors"]
    assert "INTERRUPTED" in results["verdict_line"]
    assert "INTERRUPTED" in (out / "report.html").read_text()
    assert "INTERRUPTED" in stdout


def test_demo_unknown_nemesis_is_one_line(tmp_path):
    r = crucible("demo", "--nemesis", "bogus", "--out", str(tmp_path / "out"))
    assert r.returncode == 3
    assert only_line(r).startswith("crucible demo: unknown nemesis 'bogus': choose from kill,")
