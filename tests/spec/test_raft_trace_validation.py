"""Trace validation of the Raft node: simulator runs (simulation.raft_trace) are checked
by TLC to be behaviours of OvsdbRaft (spec/OvsdbRaftTrace.tla); corrupted traces and
runs of planted node bugs must be rejected at the event that went wrong."""

import copy

import orjson
import pytest

from harness.spec.raft_trace_validation import (
    check_raft_trace,
    check_raft_traces,
    main,
    to_tla_module,
)
from simulation.raft_trace import ci_traces, trace_for


@pytest.fixture(scope="module")
def traces():
    return ci_traces()


@pytest.fixture(scope="module")
def rich(traces):
    # The first CI trace installs a snapshot (ci_traces puts those first).
    t = traces[0]
    assert any(e["action"] == "HandleInstallSnapshot" for e in t["events"])
    return t


def _first(events, action, pred=lambda e: True, start=0):
    for i, e in enumerate(events):
        if i >= start and e["action"] == action and pred(e):
            return i
    raise AssertionError(f"no {action} event")


def _rejected_at(trace, i):
    """Asserts the trace is rejected exactly at event i (0-based), not for an error.
    (The events after i + 3 are cut: they cannot matter, and TLC time is CI time.)"""
    v = check_raft_trace({**trace, "events": trace["events"][:i + 3]})
    assert not v.accepted and not v.error, v.message
    assert v.replayed == i, v.message
    assert f"rejected at event {i + 1} " in v.message


def test_simulator_traces_are_accepted(traces):
    assert len(traces) >= 10
    acts = [{e["action"] for e in t["events"]} for t in traces]
    assert all(len(t["events"]) >= 300 for t in traces)
    assert sum("HandleInstallSnapshot" in a for a in acts) >= 3
    assert any("StartElection" in a for a in acts)       # pre-vote rounds
    assert any("HandleTimeoutNow" in a for a in acts)    # leadership transfer
    assert any("Restart" in a for a in acts)
    for t, v in zip(traces, check_raft_traces(traces), strict=True):
        assert v.accepted, f"seed {t['seed']} (prevote {t['prevote']}): {v.message}"
        assert v.replayed == len(t["events"])


@pytest.mark.parametrize("action, field, start", [
    ("HandleAppendEntriesRequest", "term", 2),   # a wrong term, from the middle on
    ("ClientRequest", "index", 3),               # a wrong log index, from a third on
])
def test_changed_field_is_rejected_at_its_event(rich, action, field, start):
    bad = copy.deepcopy(rich)
    ev = bad["events"]
    i = _first(ev, action, start=len(ev) // start)
    ev[i][field] += 1
    _rejected_at(bad, i)


def test_removed_send_is_rejected_where_it_is_received(rich):
    # Remove an AppendEntries whose request is sent only once and later accepted: the
    # follower's HandleAppendEntriesRequest then has no message to handle.
    ev = rich["events"]

    def key(e, leader_field):
        return (e[leader_field], e["follower"] if "follower" in e else e["server"],
                e["term"], e["prev"], e["n"])

    sends = [key(e, "server") for e in ev if e["action"] == "AppendEntries" and "prev" in e]
    for k, e in enumerate(ev):
        if e["action"] != "AppendEntries" or not e.get("n") or sends.count(key(e, "server")) != 1:
            continue
        recv = [j for j in range(k + 1, len(ev)) if ev[j]["action"] == "HandleAppendEntriesRequest"
                and key(ev[j], "leader") == key(e, "server")]
        if recv:
            break
    else:
        raise AssertionError("no send received once")
    bad = copy.deepcopy(rich)
    del bad["events"][k]
    _rejected_at(bad, recv[0] - 1)


def test_wrong_prereq_check_is_rejected(rich):
    bad = copy.deepcopy(rich)
    ev = bad["events"]
    i = _first(ev, "HandleForward", lambda e: e["prereq"] != e["current"])
    ev[i]["current"] = ev[i]["prereq"]
    _rejected_at(bad, i)


def test_lost_quorum_step_down_must_report_the_role_after(traces):
    t = next(t for t in traces if any(e.get("reason") == "lost quorum" for e in t["events"]))
    bad = copy.deepcopy(t)
    i = _first(bad["events"], "StepDown", lambda e: e.get("reason") == "lost quorum")
    bad["events"][i]["role"] = "Leader"      # what the node logged before this work
    _rejected_at(bad, i)


def test_restart_that_rewrites_a_committed_entry_breaks_state_machine_safety(traces):
    t = next(t for t in traces
             if any(e["action"] == "Restart" and e["commit"] > e["snapshot"] for e in t["events"]))
    bad = copy.deepcopy(t)
    i = _first(bad["events"], "Restart", lambda e: e["commit"] > e["snapshot"])
    bad["events"][i]["entries"][0][0] += 1   # the first committed entry now has another term
    v = check_raft_trace({**bad, "events": bad["events"][:i + 3]})
    assert not v.accepted and v.replayed == i and "StateMachineSafety violated" in v.message


@pytest.mark.parametrize("bug, seed, at", [
    ("prereq_unchecked", 1, "ClientRequest"),        # the leader appends a stale forward
    ("figure8_commit", 3, "AdvanceCommitIndex"),     # commits an earlier term's entry
])
def test_planted_node_bug_is_rejected(bug, seed, at):
    t = trace_for(seed, 900, bugs=frozenset({bug}))
    assert not isinstance(t, str), t
    v = check_raft_trace(t)
    assert not v.accepted and not v.error, v.message
    assert t["events"][v.replayed]["action"] == at, v.message


def test_module_and_cli(tmp_path, rich, capsys):
    prep = to_tla_module(rich)
    assert "MODULE RaftTraceData" in prep.module
    assert prep.module.count('action |-> "') == len(rich["events"])
    short = {"servers": rich["servers"], "events": rich["events"][:60]}
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_bytes(orjson.dumps(short))
    broken = copy.deepcopy(short)
    broken["events"][_first(broken["events"], "BecomeLeader")]["last_index"] += 3
    bad.write_bytes(orjson.dumps(broken))
    assert main([str(good)]) == 0
    assert main([str(bad)]) == 1
    assert "rejected at event" in capsys.readouterr().out


def test_malformed_trace_is_an_error_not_a_rejection(rich):
    v = check_raft_trace({"servers": rich["servers"], "events": [{"action": "Teleport",
                                                                  "server": rich["servers"][0],
                                                                  "term": 1, "role": "Follower"}]})
    assert not v.accepted and "unknown action" in v.message
