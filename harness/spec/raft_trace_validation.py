"""Trace validation for Raft: is a simulated cluster's run a behaviour of OvsdbRaft?

A Raft trace is a JSON object ``{"servers": [sid, ...], "events": [...]}``: the
initial members (every member of the cluster's bootstrap configuration) and the trace
events the nodes emitted (``Ready.events``, see reference/raft/ready.py and the
"Raft trace events" section of spec/README.md), in the order they happened.
``to_tla_module`` writes it as the TLA+ module ``RaftTraceData`` (servers become
1..N in sid order, eids small integers, absent values 0); ``check_raft_trace`` runs
TLC on spec/OvsdbRaftTrace.tla over it, through the spec-independent
``trace_validation.replay``.

Usage: ``python -m harness.spec.raft_trace_validation TRACE.json [...]`` (exit 0 all
accepted, 1 a trace rejected, 2 error).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from harness.spec import SPEC_DIR
from harness.spec.trace_validation import (
    Prepared,
    TraceError,
    TraceVerdict,
    check_traces,
    replay,
)
from harness.spec.trace_validation import main as trace_main

SPEC_FILES = ("OvsdbRaft.tla", "OvsdbRaftTrace.tla", "OvsdbRaftTrace.cfg")
ROLES = ("Follower", "PreCandidate", "Candidate", "Leader")


def _b(x: bool) -> str:
    return "TRUE" if x else "FALSE"


class _Ids:
    """Small integers for eids, in order of first appearance; None is 0."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def __call__(self, eid: str | None) -> int:
        if eid is None:
            return 0
        return self.ids.setdefault(str(eid), len(self.ids) + 1)


def _genesis(events: list[dict]) -> set[str]:
    """Eids a prereq names that no ClientRequest appended: the bootstrap snapshot's
    eid (the first prereq of a follower that applied nothing yet).  The trace module
    starts from each candidate; normally there is exactly one."""
    named = set()
    for e in events:
        for key in ("prereq", "current"):
            if e.get(key) is not None:
                named.add(str(e[key]))
    appended = {str(e["eid"]) for e in events if e.get("action") == "ClientRequest"}
    for e in events:
        if e.get("action") == "Restart":
            appended |= {str(x[1]) for x in e.get("entries", []) if x[1] is not None}
    return named - appended


def _fields(e: dict, sid: Any, eid: _Ids) -> list[tuple[str, str]]:
    """The action's own fields, as TLA+ values (one fixed set per action)."""
    act = e["action"]

    def n(key: str, default: int | None = None) -> str:
        v = e.get(key, default)
        if v is None or isinstance(v, bool) or not isinstance(v, int):
            raise TraceError(f"{act}: {key} must be an integer, got {v!r}")
        return str(v)

    def b(key: str) -> str:
        return _b(bool(e.get(key, False)))

    if act in ("Timeout", "StartElection"):
        return [("prevote", b("prevote"))]
    if act == "HandleRequestVote":
        return [("candidate", sid(e.get("candidate"))), ("prevote", b("prevote")),
                ("grant", b("grant")), ("lastIndex", n("last_index")), ("lastTerm", n("last_term"))]
    if act == "HandleRequestVoteResponse":
        return [("voter", sid(e.get("voter"))), ("vote", sid(e.get("vote"), absent=True)),
                ("prevote", b("prevote"))]
    if act == "BecomeLeader":
        return [("lastIndex", n("last_index"))]
    if act == "TransferLeadership":
        return [("target", sid(e.get("target"))), ("match", n("match"))]
    if act == "HandleTimeoutNow":
        return [("sender", sid(e.get("sender"))), ("ignored", b("ignored"))]
    if act == "ClientRequest":
        return [("index", n("index")), ("eid", str(eid(e.get("eid")))),
                ("origin", sid(e.get("origin"), absent=True)), ("prereq", str(eid(e.get("prereq"))))]
    if act == "Forward":
        return [("leader", sid(e.get("leader"))), ("eid", str(eid(e.get("eid")))),
                ("prereq", str(eid(e.get("prereq")))), ("retry", n("retry"))]
    if act == "HandleForward":
        return [("sender", sid(e.get("sender"))), ("eid", str(eid(e.get("eid")))),
                ("prereq", str(eid(e.get("prereq")))), ("current", str(eid(e.get("current"))))]
    if act == "AppendEntries":
        if "snapshot" in e:
            return [("follower", sid(e.get("follower"))), ("prev", "0"), ("n", "0"),
                    ("commit", "0"), ("snapshot", n("snapshot"))]
        return [("follower", sid(e.get("follower"))), ("prev", n("prev")), ("n", n("n")),
                ("commit", n("commit")), ("snapshot", "0")]
    if act == "HandleAppendEntriesRequest":
        return [("leader", sid(e.get("leader"))), ("prev", n("prev")), ("n", n("n")),
                ("ok", b("ok")), ("commit", n("commit", -1))]
    if act == "HandleInstallSnapshot":
        return [("leader", sid(e.get("leader"))), ("lastIndex", n("last_index")),
                ("applied", n("applied"))]
    if act == "HandleAppendEntriesResponse":
        ok = bool(e.get("snapshot")) or e.get("result") == "OK"
        return [("follower", sid(e.get("follower"))), ("ok", _b(ok)), ("match", n("match"))]
    if act == "AdvanceCommitIndex":
        return [("commit", n("commit"))]
    if act == "TakeSnapshot":
        return [("index", n("index"))]
    if act == "Restart":
        ents = []
        for x in e.get("entries", []):
            if not (isinstance(x, list) and len(x) == 3):
                raise TraceError(f"Restart: an entry is [term, eid, servers], got {x!r}")
            term, ident, servers = x
            if servers is not None:
                conf = "{" + ", ".join(sid(s) for s in servers) + "}"
                ents.append(f'[term |-> {int(term)}, type |-> "conf", cmd |-> 0, conf |-> {conf}]')
            else:
                kind = "cmd" if ident is not None else "noop"
                ents.append(f'[term |-> {int(term)}, type |-> "{kind}", cmd |-> {eid(ident)}, '
                            f"conf |-> {{}}]")
        return [("vote", sid(e.get("vote"), absent=True)), ("snapshot", n("snapshot")),
                ("entries", "<<" + ", ".join(ents) + ">>"), ("commit", n("commit"))]
    if act == "StepDown":
        return [("lostQuorum", _b(e.get("reason") == "lost quorum"))]
    raise TraceError(f"unknown action {act!r}")


def to_tla_module(trace: dict) -> Prepared:
    """Write the trace as the TLA+ module RaftTraceData; raises TraceError if malformed."""
    if not isinstance(trace, dict) or not isinstance(trace.get("events"), list):
        raise TraceError('a Raft trace is {"servers": [...], "events": [...]}')
    servers = sorted(str(s) for s in trace.get("servers") or [])
    if not servers:
        raise TraceError("a Raft trace names its initial members in 'servers'")
    number = {s: k for k, s in enumerate(servers, 1)}
    events = trace["events"]
    eid = _Ids()

    def sid(x: Any, absent: bool = False) -> str:
        if x is None and absent:
            return "0"
        if str(x) not in number:
            raise TraceError(f"unknown server {x!r} (joins are not validated)")
        return str(number[str(x)])

    genesis = sorted(eid(g) for g in _genesis(events))
    records = []
    for idx, e in enumerate(events, 1):
        if not isinstance(e, dict):
            raise TraceError(f"event {idx}: not an object")
        act = e.get("action")
        if e.get("role") not in ROLES:
            raise TraceError(f"event {idx} ({act}): role must be one of {ROLES}")
        try:
            own = _fields(e, sid, eid)
            head = [("action", f'"{act}"'), ("server", sid(e.get("server"))),
                    ("term", str(int(e["term"]))), ("role", f'"{e["role"]}"')]
        except (TraceError, KeyError, TypeError, ValueError) as err:
            raise TraceError(f"event {idx} ({act}): {err}") from None
        records.append("[" + ", ".join(f"{k} |-> {v}" for k, v in head + own) + "]")
    cmds = sorted(set(eid.ids.values()) | {0})
    body = ",\n  ".join(records)
    text = f"""---------------------------- MODULE RaftTraceData ----------------------------
\\* Generated by harness/spec/raft_trace_validation.py from a trace of {len(events)} events.
EXTENDS Integers
TrServer == 1..{len(servers)}
TrCmds == {{{", ".join(str(c) for c in cmds)}}}
TrGenesis == {{{", ".join(str(g) for g in genesis) or str(len(eid.ids) + 1)}}}
Trace == <<
  {body}
  >>
=============================================================================
"""
    return Prepared(module=text, events=list(events))


def check_raft_trace(trace: dict, *, timeout: float = 300.0, spec_dir: Path = SPEC_DIR,
                     workers: int = 1) -> TraceVerdict:
    """Run TLC on the trace; accepted iff every event is a step of OvsdbRaft."""
    try:
        prep = to_tla_module(trace)
    except TraceError as e:
        return TraceVerdict(False, 0, 0, f"malformed trace: {e}")
    return replay(prep.module, prep.events, trace_module="OvsdbRaftTrace.tla",
                  cfg="OvsdbRaftTrace.cfg", spec_files=SPEC_FILES, spec_dir=spec_dir,
                  timeout=timeout, workers=workers)


def check_raft_traces(traces: list[dict], *, parallel: int = 2,
                      timeout: float = 300.0) -> list[TraceVerdict]:
    """Check several traces, ``parallel`` TLC processes at a time (one worker each)."""
    return check_traces(traces, parallel=parallel, timeout=timeout, check=check_raft_trace)


def main(argv: list[str]) -> int:
    return trace_main(argv, check_raft_trace, "harness.spec.raft_trace_validation")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
