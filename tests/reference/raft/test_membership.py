"""One-at-a-time membership as OVS 3.1 does it: join through any member, kick, leave."""

from __future__ import annotations

from reference.raft.durable import replay_json
from tests.reference.raft.scripted import SIDS, Scripted

A, B, C, D = SIDS["a"], SIDS["b"], SIDS["c"], SIDS["d"]


def joined(remotes: str = "b") -> Scripted:
    s = Scripted()
    s.elect("a")
    s.add("d", remotes)                            # d knows only these addresses
    s.tick("d", s.now)
    return s


def test_joiner_is_told_not_leader_with_addresses_then_joins_through_the_leader():
    s = joined()
    (rq,) = s.sent("add_server_request", src="d")
    assert rq.to is None and rq.cluster is None and rq.address == "tcp:d:6644"
    s.deliver("add_server_request")
    (no,) = s.sent("add_server_reply", src="b")
    assert not no.success and no.comment == "not leader"
    assert set(no.remote_addresses) == {"tcp:a:6644", "tcp:c:6644"}
    s.deliver("add_server_reply")
    s.tick("d", s.now + 1000)                       # retries every second, everywhere
    assert {s.dest(x) for x in s.outbox if x.message.METHOD == "add_server_request"} == {
        "a", "b", "c"}
    s.settle()
    # The leader caught d up with a snapshot, then appended the new configuration.
    comments = [m.comment for m in s.delivered if m.METHOD == "append_request"]
    assert "initialize new server" in comments
    assert any(m.METHOD == "add_server_reply" and m.success and m.comment == "completed"
               for m in s.delivered)
    a, d = s.nodes["a"], s.nodes["d"]
    assert "HandleInstallSnapshot" in s.actions("d")
    assert "ChangeMembership" in s.actions("a")
    assert set(a.servers) == {A, B, C, D}
    assert not d.joining and d.cid == a.cid
    s.heartbeat("a")
    assert d.commit_index == a.commit_index and set(d.servers) == {A, B, C, D}
    st = replay_json(s.records["d"])                    # its file: a full member's
    assert st.cid == a.cid and st.log.last_index == a.log.last_index


def test_a_new_configuration_waits_for_the_previous_one_to_commit():
    s = joined("a")
    s.cut = {"b", "c"}                             # a and d alone cannot commit
    s.settle()
    a = s.nodes["a"]
    assert set(a.servers) == {A, B, C, D} and a._config_uncommitted()
    assert a.kick(C) == "in progress" and a.remove_server is None
    s.cut = set()
    s.heartbeat("a")                               # lost appends are sent again
    s.heartbeat("a")
    assert not a._config_uncommitted()
    assert a.kick(C) == "in progress" and a.remove_server == (C, None)


def test_kick_removes_a_follower_and_the_removed_one_cannot_disrupt():
    s = Scripted()
    s.elect("a")
    assert s.do("a", "kick", C) == "in progress"
    s.settle()
    s.heartbeat("a")
    assert set(s.nodes["a"].servers) == {A, B}
    assert "ChangeMembership" in s.actions("a")
    # c never heard of its removal: it stands, and the others drop it as unknown.
    s.cut = set()
    s.now = 9000
    s.do("c", "timeout")
    s.settle()
    assert s.nodes["a"].is_leader and s.nodes["a"].term == 2
    assert any(d["why"] == "unknown server" and d["sender"] == C for d in s.dropped)


def test_follower_forwards_a_kick_and_gets_the_reply_with_target_server():
    from reference.raft import messages
    s = Scripted()
    s.elect("a")
    b = s.nodes["b"]
    b._send(messages.RemoveServerRequest(sender=B, to=A, cluster=b.cid, server_id=C,
                                  comment="via unixctl"))
    s.flush("b")
    s.settle()
    s.heartbeat("a")
    assert set(s.nodes["a"].servers) == {A, B}
    (rp,) = [m for m in s.delivered if m.METHOD == "remove_server_reply"]
    assert rp.to == B and rp.success and rp.target_server == C and rp.comment == "completed"


def test_leave_hands_leadership_over_then_is_removed_and_writes_left():
    s = Scripted()
    s.elect("a")
    s.do("a", "leave")
    assert "TransferLeadership" in s.actions("a")
    for t in range(2100, 6000, 100):
        s.tick("a", t)
        s.settle()
        if s.nodes["a"].left:
            break
    assert s.nodes["a"].left
    assert {"note": "left"} in s.records["a"]
    leader = next(n for n in "bc" if s.nodes[n].is_leader)
    assert set(s.nodes[leader].servers) == {B, C}


def test_a_removal_request_while_another_change_is_in_progress_is_answered():
    from reference.raft import messages
    s = Scripted()
    s.elect("a")
    assert s.do("a", "kick", C) == "in progress"
    b = s.nodes["b"]
    b._send(messages.RemoveServerRequest(sender=B, to=A, cluster=b.cid, server_id=B))
    s.flush("b")
    s.deliver("remove_server_request")
    (rp,) = s.sent("remove_server_reply", src="a")
    assert not rp.success and rp.comment == "in progress" and rp.target_server is None
