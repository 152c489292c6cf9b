"""The same seed gives the same schedule of operations and faults."""

from __future__ import annotations

import random

from harness.campaign import CampaignConfig, run_campaign
from harness.history import read_jsonl
from harness.nemesis.schedule import parse_kinds
from harness.workloads import make_workload


def _per_worker(path, workers):
    seqs: dict[int, list] = {w: [] for w in range(workers)}
    for op in read_jsonl(path):
        if op.type == "invoke" and isinstance(op.process, int) and op.process < 1_000_000:
            # cas old values are bound at run time from what the process saw: leave out.
            value = op.value[1] if op.f == "cas" else op.value
            seqs[op.process % workers].append((op.f, op.key, value))
    return seqs


def _run(tmp_path, name, seed):
    cfg = CampaignConfig(target="ovsdb-server", workload="cas-register", nodes=1, time_s=4.0,
                         seed=seed, out=tmp_path / name, workers=3, keys=2,
                         nemesis=parse_kinds("kill,pause"), progress=False)
    results = run_campaign(cfg)
    return results, _per_worker(cfg.out / "history.jsonl", 3)


def test_same_seed_same_plan(tmp_path):
    r1, ops1 = _run(tmp_path, "a", 11)
    r2, ops2 = _run(tmp_path, "b", 11)
    other = make_workload("cas-register", keys=2)
    assert r1["schedule"] == r2["schedule"]
    for w in range(3):
        n = min(len(ops1[w]), len(ops2[w]))
        assert n > 20
        # Timing decides how far each worker gets, not what it does.
        assert ops1[w][:n] == ops2[w][:n]
        rng = random.Random(f"12:worker:{w}")  # what seed 12 would have planned
        planned = [other.generate(rng, w) for _ in range(n)]
        assert ops1[w][:n] != [(p.f, p.key, p.value[1] if p.f == "cas" else p.value)
                               for p in planned]
