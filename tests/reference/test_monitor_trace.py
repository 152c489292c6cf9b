"""random_trace: deterministic, in spec/README.md's event format, and accepted by TLC as
a behaviour of spec/MonitorDelta.tla (a tampered trace must be rejected)."""

from __future__ import annotations

import copy
import shutil

import pytest

from harness.spec.trace_validation import check_trace
from simulation.monitor_trace import random_trace

ACTIONS = {"Init", "Commit", "RequestCondChange", "ServerCondChange", "Disconnect",
           "Resume", "ApplyUpdate2"}


def test_trace_is_deterministic_and_well_formed():
    a = random_trace(5, 150)
    assert a == random_trace(5, 150)
    assert a != random_trace(6, 150)
    assert a[0]["action"] == "Init"
    assert {e["action"] for e in a} <= ACTIONS
    txns = [e["txn"] for e in a if e["action"] == "Commit"]
    assert txns == list(range(1, len(txns) + 1))
    kinds = {e["kind"] for e in a if e["action"] == "ApplyUpdate2"}
    assert "update" in kinds and ({"resume", "full"} & kinds)


def test_trace_resumes_find_history_exactly():
    for seed in range(20):
        trace = random_trace(seed, 200)
        hist = trace[0]["hist"]
        for e in trace:
            if e["action"] == "Resume":
                want = 1 <= e["last"] and e["last"] >= e["txn"] - hist
                assert e["found"] == want, e


def test_tlc_accepts_core_trace_and_rejects_a_tampered_one():
    if shutil.which("java") is None:
        pytest.skip("java not installed")
    trace = random_trace(11, 120)
    verdict = check_trace(trace, timeout=240)
    assert verdict.accepted, verdict.message
    bad = copy.deepcopy(trace)
    for e in bad:
        if e["action"] == "Commit" and e["updates"]:
            client = sorted(e["updates"])[0]
            e["updates"][client] = e["updates"][client][1:] or [{"row": 0, "op": "delete"}]
            break
    else:
        pytest.fail("trace has no commit with updates")
    assert not check_trace(bad, timeout=240).accepted
