"""``crucible simulate``: 5,000 seeds of the clean node per CI run (its rate recorded in
out/simulate-rate.txt and shown as a warning in pytest's summary, which ``-s`` or not
always prints), exit codes, the reproducing command line, and usage errors."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import pytest

from harness.cli import main as crucible
from simulation.cli import UsageError, main, parse_seeds
from simulation.raft_cluster import SimOptions, simulate

REPO = Path(__file__).resolve().parents[2]
CI_SEEDS = 5000
# Two worker processes: pytest runs one test at a time, so CI's second core is idle.
CI_JOBS = min(2, os.cpu_count() or 1)


def test_clean_node_passes_5000_seeds(capsys):
    assert main(["--seeds", f"1-{CI_SEEDS}", "--jobs", str(CI_JOBS)]) == 0
    out = capsys.readouterr().out
    rate = next(line for line in out.splitlines() if "schedules/s" in line)
    assert rate.startswith(f"{CI_SEEDS} schedules of up to 1000 steps"), rate
    # The seeds did fault the cluster and make progress (the sum over all of them).
    totals = dict(re.findall(r"(\w+) (\d+)", out.split("over all seeds: ")[1]))
    for k in ("elections", "crashes", "snapshots", "installs", "joins", "transfers"):
        assert int(totals[k]) > CI_SEEDS // 20, (k, totals)
    assert int(totals["acked"]) > 10 * CI_SEEDS
    (REPO / "out").mkdir(exist_ok=True)
    (REPO / "out" / "simulate-rate.txt").write_text(rate + "\n")
    warnings.warn(f"raft simulator: {rate}", stacklevel=1)


def test_a_violation_prints_the_command_that_reproduces_it(capsys):
    args = ["--seeds", "1-3", "--steps", "1000", "--bug", "prereq_unchecked"]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "VIOLATION: inconsistent data" in out and "schedule (last 60 steps):" in out
    assert "planted bug prereq_unchecked caught at seed 1, after 1 seed(s)" in out
    command = next(line for line in out.splitlines() if line.startswith("reproduce: "))
    assert command == ("reproduce: crucible simulate --seeds 1 --steps 1000 "
                       "--bug prereq_unchecked")
    again = command.split()[3:]                       # the words after "simulate"
    assert main([*again, "--quiet"]) == 1
    quiet = capsys.readouterr().out
    assert out.splitlines()[0] == quiet.splitlines()[0]   # the same violation
    assert "schedule (last" not in quiet


def test_the_pool_reports_the_first_failing_seed_in_seed_order(capsys):
    args = ["--seeds", "1-60", "--bug", "forward_retry_after_commit", "--quiet"]
    assert main(args) == 1
    one = capsys.readouterr().out.splitlines()[0]
    assert main([*args, "--jobs", "2"]) == 1
    assert capsys.readouterr().out.splitlines()[0] == one
    first = int(one.split(":")[0].removeprefix("seed "))
    assert "VIOLATION" in one and first > 1
    # every seed before it passes: the pool reported the first in seed order
    assert main(["--seeds", f"1-{first - 1}", "--bug", "forward_retry_after_commit",
                 "--quiet"]) == 3


def test_a_planted_bug_not_caught_is_not_a_pass(capsys):
    assert main(["--seeds", "1-2", "--steps", "100", "--bug", "figure8_commit"]) == 3
    assert "planted bug not caught in 2 seeds: figure8_commit" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--bug", "nope"], "unknown planted bug 'nope'; valid: figure8_commit, "
                        "forward_retry_after_commit, install_snapshot_keeps_old_data, "
                        "prereq_unchecked, vote_before_persist"),
    (["--seeds", "5-1"], "--seeds '5-1': '5-1' is not a range of seeds >= 0"),
    (["--seeds", "a"], "--seeds 'a': expected A-B, N or a comma list"),
    (["--steps", "0"], "--steps 0: must be at least 1"),
    (["--jobs", "0"], "--jobs 0: must be at least 1"),
    (["--nodes", "2"], "--nodes 2: must be 3 to 9"),
    (["--steps", "x"], "argument --steps: invalid int value: 'x'"),
    (["--frob"], "unrecognized arguments: --frob"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"crucible simulate: {message}") and err.count("\n") == 1, err


def test_seed_lists():
    assert parse_seeds("3") == [3]
    assert parse_seeds("1-3,7,2-4") == [1, 2, 3, 7, 4]
    with pytest.raises(UsageError):
        parse_seeds("1-")


def test_crucible_dispatches_simulate(capsys):
    assert crucible(["simulate", "--seeds", "1-2", "--steps", "200", "--nodes", "5",
                     "--quiet"]) == 0
    assert "2 schedules of up to 200 steps" in capsys.readouterr().out
    assert crucible(["help"]) == 0
    assert "simulate" in capsys.readouterr().out


def test_nodes_fixes_the_cluster_size_and_leaves_the_rest_of_the_seed():
    drawn = simulate(2, 300).stats
    fixed = simulate(2, 300, SimOptions(nodes=5)).stats
    assert fixed["nodes"] == 5
    assert {k: drawn[k] for k in ("drop%", "batch", "inflight")} == {
        k: fixed[k] for k in ("drop%", "batch", "inflight")}
