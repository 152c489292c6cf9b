"""Data-driven interaction scripts: each reads like a conversation between nodes.

Commands (one a line; ``#`` starts a comment):
    tick NODE MS                     NODE's clock reaches MS
    deliver|drop METHOD SRC>DST      deliver (or lose) the matching messages in flight;
                                     ``*`` matches any method or node
    sync NODE                        NODE's pending writes become durable
    settle                           deliver everything until nothing is in flight
    propose NODE N [PREREQ]          data N with eid N; PREREQ: applied | genesis | none
    transfer NODE                    NODE (the leader) hands leadership over
    sent METHOD SRC>DST k=v ...      some message in flight matches every field
    none METHOD SRC>DST              no message in flight matches
    state NODE k=v ...               node attributes (role, term, commit_index, vote, ...)
    reply NODE N k=v ...             the last reply to command N at NODE
    written NODE {json}              NODE wrote this record (synced or not)
Values are Python literals; a bare node name (a..e) stands for its sid.
"""

from __future__ import annotations

import ast
import json
import re

import pytest

from reference.raft.durable import to_json
from tests.reference.raft.scripted import GENESIS, SIDS, Scripted, eid

SCRIPTS = {
    "vote is fsynced before the reply, the candidate's own vote too": """
        tick a 2000
        sent vote_request a>b term=2 last_log_index=1 last_log_term=1
        none vote_request a>a
        deliver vote_request a>*
        none vote_reply *>a                  # b and c wrote their votes, not yet synced
        written b {"term": 2, "vote": "a"}
        sync b
        sent vote_reply b>a term=2 vote=a
        deliver vote_reply b>a
        state a role='Candidate'              # its own vote is not durable yet
        sync a
        state a role='Leader' term=2
        sent append_request a>b prev_log_index=1 leader_commit=1
    """,
    "a forward whose prereq is stale fails; with the leader's eid it commits": """
        tick a 2000
        sync a
        settle
        sync b
        sync c
        settle
        state a role='Leader'
        propose a 1 none
        propose b 2 genesis                   # b has not seen 1: its prereq is stale
        deliver execute_command_request b>a
        sent execute_command_reply a>b status='prerequisite check failed'
        settle
        reply b 2 status='prerequisite check failed'
        tick a 2400                           # a heartbeat brings b the commit of 1
        settle
        propose b 3 applied
        settle
        tick a 2800
        settle
        reply b 3 status='success' commit_index=4
        state b commit_index=4
    """,
    "leadership transfer: become_leader, then an election no guard suppresses": """
        tick a 2000
        settle
        tick a 2400
        settle
        state a role='Leader' term=2
        tick b 2500                           # b heard a moments ago
        none vote_request *>*
        transfer a
        sent become_leader a>* term=2
        deliver become_leader a>*
        sent vote_request *>a term=3 leadership_transfer=True
        settle
        state a role='Follower' term=3
    """,
}


def _value(text: str):
    if text in SIDS:
        return SIDS[text]
    return ast.literal_eval(text)


def _fields(args: list[str]) -> dict:
    return {k: _value(v) for k, v in (a.split("=", 1) for a in args)}


def _route(arg: str) -> tuple[str | None, str | None]:
    src, dst = arg.split(">")
    return (None if src == "*" else src), (None if dst == "*" else dst)


def run(script: str) -> Scripted:
    s = Scripted(auto_sync=False)
    for n, raw in enumerate(script.strip().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        cmd, *args = re.findall(r"[^\s=]+='[^']*'|\S+", line)  # k='a b' is one
        where = f"line {n}: {line}"
        if cmd == "tick":
            s.tick(args[0], int(args[1]))
        elif cmd in ("deliver", "drop"):
            method = None if args[0] == "*" else args[0]
            src, dst = _route(args[1])
            assert s.deliver(method, src, dst, drop=cmd == "drop"), where
        elif cmd == "sync":
            s.sync(args[0])
        elif cmd == "settle":
            for name in s.nodes:
                s.sync(name)
            for _ in range(50):
                if not s.outbox:
                    break
                s.deliver()
                for name in s.nodes:
                    s.sync(name)
        elif cmd == "propose":
            node = s.nodes[args[0]]
            prereq = {"applied": node.applied_eid, "genesis": GENESIS, "none": None}[
                args[2] if len(args) > 2 else "applied"]
            s.do(args[0], "propose", [None, {"T": {"n": int(args[1])}}], prereq,
                 eid(int(args[1])))
        elif cmd == "transfer":
            s.do(args[0], "transfer_leadership")
        elif cmd in ("sent", "none"):
            method = None if args[0] == "*" else args[0]
            src, dst = _route(args[1])
            want = _fields(args[2:])
            hits = [m for m in s.sent(method, src, dst)
                    if all(getattr(m, k) == v for k, v in want.items())]
            assert bool(hits) == (cmd == "sent"), f"{where}\nin flight: {s.sent()}"
        elif cmd == "state":
            node = s.nodes[args[0]]
            for k, v in _fields(args[1:]).items():
                assert getattr(node, k) == v, f"{where}: {k} is {getattr(node, k)!r}"
        elif cmd == "reply":
            replies = [r for r in s.replies[args[0]] if r.result == eid(int(args[1]))]
            assert replies, where
            for k, v in _fields(args[2:]).items():
                assert getattr(replies[-1], k) == v, f"{where}: {replies[-1]}"
        elif cmd == "written":
            rec = {k: _value(v) if isinstance(v, str) else v
                   for k, v in json.loads(line.split(None, 2)[2]).items()}
            written = s.records[args[0]] + [r for op in s.unsynced[args[0]]
                                            for r in map(to_json, op.records)]
            assert rec in written, where
        else:
            raise AssertionError(f"unknown command: {where}")
    return s


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_conversation(name):
    run(SCRIPTS[name])


def test_a_script_that_expects_the_wrong_thing_fails():
    with pytest.raises(AssertionError, match="line 2"):
        run("tick a 2000\nsent vote_request a>b term=3")
