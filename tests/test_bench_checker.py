"""bench/checker.py's set-up of Porcupine: clear errors when it cannot be built, and,
where Go and Porcupine's source are at hand ($PORCUPINE_SRC), Porcupine and our checker
agree on Porcupine-shaped kv histories."""

from __future__ import annotations

import os
import shutil

import pytest

from bench import checker as bench
from harness.history import dumps_jsonl
from harness.linear import check
from harness.linear.generate import plant_violation, simulate_kv_appends


def test_without_go_the_apt_line_is_given(tmp_path, monkeypatch):
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    with pytest.raises(bench.SetupError, match="apt-get install -y golang-go"):
        bench.build_porcupine(tmp_path, None)


def test_a_source_that_is_not_porcupine_is_refused(tmp_path):
    with pytest.raises(bench.SetupError, match="neither a Porcupine checkout"):
        bench._porcupine_source(str(tmp_path), tmp_path)


@pytest.mark.skipif(shutil.which("go") is None or not os.environ.get("PORCUPINE_SRC"),
                    reason="needs go and $PORCUPINE_SRC (Porcupine's source)")
def test_porcupine_and_ours_agree(tmp_path):
    binary, _ = bench.build_porcupine(tmp_path, os.environ["PORCUPINE_SRC"])
    for seed in range(3):
        ok = simulate_kv_appends(clients=10, keys=3, ops=200, seed=seed)
        for ops in (ok, plant_violation(ok, "kv")):
            path = tmp_path / f"h{seed}.jsonl"
            path.write_bytes(dumps_jsonl(ops))
            assert bench.run_porcupine(binary, path, 1)["verdict"] == check(ops, "kv").verdict
