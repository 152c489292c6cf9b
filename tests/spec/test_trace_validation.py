"""Trace validation: runs of a monitor core, as JSON events, are checked by TLC to be
behaviours of MonitorDelta; corrupted traces must be rejected at the corrupted event.

Two trace sources: simulation.monitor_trace_from_spec (written from the contract in
spec/README.md, independent of reference/) and the reference server's monitor core
(simulation.monitor_trace)."""

import copy

import orjson
import pytest

from harness.spec.trace_validation import check_trace, check_traces, main, to_tla_module
from simulation import monitor_trace as reference_core_trace
from simulation.monitor_trace_from_spec import random_trace

SEEDS = [1, 2, 3]


def _first(trace, action, pred=lambda e: True, start=1):
    for i, e in enumerate(trace):
        if i >= start and e.get("action") == action and pred(e):
            return i
    raise AssertionError(f"no {action} event in the trace")


@pytest.fixture(scope="module")
def trace():
    # A trace rich enough to corrupt in every way below.
    for seed in range(100):
        t = random_trace(seed, 120)
        acts = [e["action"] for e in t]
        if (any(e["action"] == "Resume" and e["found"] for e in t)
                and any(e["action"] == "Commit" and e["updates"] for e in t)
                and "ServerCondChange" in acts):
            return t
    raise AssertionError("no rich trace")


def test_valid_traces_are_accepted():
    traces = [random_trace(seed, 150) for seed in SEEDS]
    for t, v in zip(traces, check_traces(traces), strict=True):
        assert v.accepted, v.message
        assert v.replayed == len(t) - 1  # the Init event is not a step


def test_accepts_the_whole_rich_trace(trace):
    assert check_trace(trace).accepted


def test_changed_value_in_an_update_is_rejected(trace):
    bad = copy.deepcopy(trace)
    i = _first(bad, "Commit", lambda e: bool(e["updates"]))
    ups = next(iter(bad[i]["updates"].values()))
    ups[0]["op"] = "insert" if ups[0]["op"] != "insert" else "modify"
    v = check_trace(bad)
    assert not v.accepted and not v.error
    assert v.replayed == i - 1  # rejected exactly at the corrupted event (Init is index 0)


def test_dropped_update_is_rejected(trace):
    bad = copy.deepcopy(trace)
    i = _first(bad, "Commit", lambda e: bool(e["updates"]))
    bad[i]["updates"] = {}
    v = check_trace(bad)
    assert not v.accepted and not v.error and v.replayed == i - 1


def test_update_applied_twice_is_rejected(trace):
    bad = copy.deepcopy(trace)
    i = _first(bad, "ApplyUpdate2", lambda e: e["kind"] == "update")
    bad.insert(i + 1, copy.deepcopy(bad[i]))
    v = check_trace(bad)
    assert not v.accepted and not v.error and v.replayed == i


def test_skipped_update_on_resume_is_rejected(trace):
    bad = copy.deepcopy(trace)
    i = _first(bad, "Resume", lambda e: e["found"] and bool(e["ups"]))  if any(
        e.get("action") == "Resume" and e.get("found") and e.get("ups") for e in bad
    ) else _first(bad, "Resume")
    if bad[i]["ups"]:
        bad[i]["ups"] = bad[i]["ups"][1:]
    else:
        bad[i]["found"] = not bad[i]["found"]
    v = check_trace(bad)
    assert not v.accepted and not v.error and v.replayed == i - 1


def test_wrong_replica_is_rejected(trace):
    bad = copy.deepcopy(trace)
    i = _first(bad, "ApplyUpdate2", lambda e: bool(e["replica"]))
    row = next(iter(bad[i]["replica"].values()))
    row["n"] = row.get("n", 0) + 1
    v = check_trace(bad)
    assert not v.accepted and v.replayed == i - 1


def test_malformed_trace_is_an_error_not_a_rejection():
    v = check_trace([{"action": "Teleport", "client": 1}])
    assert not v.accepted and "unknown action" in v.message


def test_module_text_holds_the_trace(trace):
    prep = to_tla_module(trace)
    assert "MODULE MDTraceData" in prep.module
    assert prep.module.count('action |-> "') == len(trace) - 1


def test_cli(tmp_path, trace, capsys):
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_bytes(orjson.dumps(trace[:40]))
    broken = copy.deepcopy(trace[:40])
    i = _first(broken, "ApplyUpdate2")
    broken[i]["txn"] += 7
    bad.write_bytes(orjson.dumps(broken))
    assert main([str(good)]) == 0
    assert main([str(bad)]) == 1
    assert "rejected at event" in capsys.readouterr().out


def test_reference_monitor_traces_are_accepted():
    traces = [reference_core_trace.random_trace(seed, 150) for seed in (1, 2, 3, 4, 5, 6)]
    for seed, v in zip((1, 2, 3, 4, 5, 6), check_traces(traces), strict=True):
        assert v.accepted, f"seed {seed}: {v.message}"


def test_corrupted_reference_trace_is_rejected():
    t = reference_core_trace.random_trace(5, 150)
    i = _first(t, "ApplyUpdate2", start=0)
    bad = t[:i] + t[i + 1:]  # one applied update dropped
    assert not check_trace(bad).accepted
