"""``ovs-appctl cluster/*`` for the clustered databases a server hosts, in ovsdb-server
3.1's words and layout (checked against its output): status, cid, sid, leave, kick,
change-election-timer.  Errors are raised as ValueError with OVS's text (the unixctl
server turns them into an error reply)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from reference.raft.progress import CANDIDATE, LEADER, PRECANDIDATE
from reference.server.cluster_shell import ClusterShell

Command = Callable[[list[str]], str]


def _short(sid: str | None) -> str:
    return sid[:4] if sid else "0000"


# RaftNode.change_election_timer's refusals in ovsdb-server 3.1's words.
TIMER_REFUSALS = {
    "not leader": "election timer must be changed through leader.",
    "in progress": "election timer change pending.",
    "out of range": "election timer must be between 100 and 600000, in msec.",
    "too large": "election timer increase should not exceed the current value x 2.",
}


def _atoll_u64(text: str) -> int:
    """The argument as raft.c reads it: atoll (leading digits, else 0) into a uint64,
    so "abc" is 0 and "-5" is huge; both are then out of range."""
    m = re.match(r"\s*([+-]?)(\d*)", text)
    value = int(m.group(2) or 0)
    return (1 << 64) - value if m.group(1) == "-" and value else value


def status_text(shell: ClusterShell) -> str:
    node, storage = shell.node, shell.storage
    if node.joining:
        state = "joining cluster"
    elif node.left:
        state = "left cluster"
    elif node.leaving:
        state = "leaving cluster"
    else:
        state = "cluster member"
    role = {LEADER: "leader", CANDIDATE: "candidate",
            PRECANDIDATE: "candidate"}.get(node.role, "follower")
    leader = ("self" if node.leader_sid == node.sid and node.role == LEADER
              else _short(node.leader_sid) if node.leader_sid else "unknown")
    vote = "self" if node.vote == node.sid else _short(node.vote) if node.vote else "unknown"
    cid = node.cid or "00000000-0000-0000-0000-000000000000"
    lines = [_short(node.sid), f"Name: {node.name}", f"Cluster ID: {_short(cid)} ({cid})",
             f"Server ID: {_short(node.sid)} ({node.sid})", f"Address: {node.address}",
             f"Status: {state}", f"Role: {role}", f"Term: {node.term}", f"Leader: {leader}",
             f"Vote: {vote}", ""]
    now_ms = int(time.monotonic() * 1000)
    if node.election_start is not None:
        lines.append(f"Last Election started {now_ms - node.election_start} ms ago, "
                     f"reason: {node.election_reason}")
    if node.election_won is not None:
        lines.append(f"Last Election won: {now_ms - node.election_won} ms ago")
    pending = node.pending_election_timer if node.role == LEADER else None
    changing = f" (changing to {pending})" if pending is not None else ""
    lines += [f"Election timer: {node.election_timer}{changing}",
             f"Log: [{node.log.start}, {node.log.end}]",
             f"Entries not yet committed: {node.log.end - 1 - node.commit_index}",
             f"Entries not yet applied: {node.commit_index - storage.applied_index}"]
    conns = " ".join(("->" if c.address is not None else "<-") + _short(c.sid)
                     for c in shell.connections)
    lines += [f"Connections: {conns}", f"Disconnections: {shell.disconnections}", "Servers:"]
    now = time.monotonic()
    heard = {c.sid: c.last_input for c in shell.connections if c.sid}
    for sid, address in sorted(node.servers.items()):
        line = f"    {_short(sid)} ({_short(sid)} at {address})"
        if sid == node.sid:
            line += " (self)"
        peer = node.peers.get(sid) if node.role == LEADER else None
        if node.role == LEADER:
            match = peer.match_index if peer else node.durable_index
            nxt = peer.next_index if peer else node.log.end
            line += f" next_index={nxt} match_index={match}"
        if sid in heard:
            line += f" last msg {int((now - heard[sid]) * 1000)} ms ago"
        lines.append(line)
    return "\n".join(lines) + "\n"


def cluster_commands(shells: dict[str, ClusterShell]) -> dict[str, Command]:
    def shell_of(params: list[str], n: int = 1) -> ClusterShell:
        if len(params) != n:
            raise ValueError("wrong number of arguments")
        shell = shells.get(params[0])
        if shell is None:
            raise ValueError("unknown cluster")
        return shell

    def status(params: list[str]) -> str:
        return status_text(shell_of(params))

    def cid(params: list[str]) -> str:
        node = shell_of(params).node
        if node.cid is None:
            raise ValueError("cluster id not yet known")
        return node.cid + "\n"

    def sid(params: list[str]) -> str:
        return shell_of(params).node.sid + "\n"

    def leave(params: list[str]) -> str:
        node = shell_of(params).node
        if node.joining:
            raise ValueError("can't leave while join in progress")
        if node.leaving or node.left:
            raise ValueError("already in progress leaving cluster")
        node.leave()
        shell_of(params).pump()
        return ""

    def kick(params: list[str]) -> str:
        shell = shell_of(params, 2)
        node, who = shell.node, params[1]
        matches = [s for s in node.servers if s == who or s.startswith(who)
                   or node.servers[s] == who]
        if len(matches) != 1:
            raise ValueError("unknown server")
        if node.role == LEADER:
            comment = node.kick(matches[0])
            shell.pump()
            if comment != "in progress":
                raise ValueError(comment)
            return "started removal\n"
        if not node.kick_via_leader(matches[0]):
            raise ValueError("no leader known to send the removal request to")
        shell.pump()
        return "sent removal request to leader\n"

    def change_election_timer(params: list[str]) -> str:
        shell = shell_of(params, 2)
        outcome = shell.node.change_election_timer(_atoll_u64(params[1]))
        shell.pump()
        if outcome != "change in progress":
            raise ValueError(TIMER_REFUSALS[outcome])
        return "change of election timer initiated.\n"

    return {"cluster/status": status, "cluster/cid": cid, "cluster/sid": sid,
            "cluster/leave": leave, "cluster/kick": kick,
            "cluster/change-election-timer": change_election_timer}
