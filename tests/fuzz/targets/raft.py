"""Raft messages as JSON-RPC notifications: ``parse_message`` raises nothing but
RaftParseError (wrong types, unknown members, unknown methods), what parses writes back
to the same message, and a follower of a three-member cluster steps through it without
raising; one from a server outside its configuration (and not join traffic or a new
leader's) is a clean drop: nothing sent, written or changed."""

from __future__ import annotations

import random

from reference.raft import messages
from reference.raft.node import RaftNode, bootstrap_state
from tests.fuzz.mutate import load
from tests.reference.raft.scripted import CID, GENESIS, SIDS

STRUCTURED = True
SERVERS = {SIDS[n]: f"tcp:{n}:6644" for n in "abc"}


def follower() -> RaftNode:
    state = bootstrap_state(SIDS["b"], CID, "T", SERVERS[SIDS["b"]], SERVERS,
                            [None, {"kv": {}}], GENESIS)
    node = RaftNode(state, now_ms=0, rng=random.Random(0))
    node.ready()
    return node


def _state(node: RaftNode) -> tuple:
    return (node.term, node.vote, node.role, node.leader_sid, node.commit_index,
            node.log.last_index, dict(node.servers))


def one_input(data: bytes) -> None:
    note = load(data, dict)
    if note is None:
        return
    try:
        msg = messages.parse_message(note.get("method"), note.get("params"))
    except messages.RaftParseError:
        return
    back = messages.parse_message(*messages.message_to_json(msg))
    if back != msg:
        raise AssertionError(f"{msg!r} written and read back is {back!r}")
    node = follower()
    before = _state(node)
    stranger = msg.sender not in node.servers and not node._accepts_stranger(msg)
    node.step(msg)
    out = node.ready()
    if stranger and (out.messages or out.persist or _state(node) != before):
        raise AssertionError(f"a message from unknown server {msg.sender} was acted on")
    node.tick(node.election_timer * 3)  # and time goes on after it
    node.ready()
