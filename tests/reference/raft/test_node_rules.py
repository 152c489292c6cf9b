"""The Raft node against the rules of the Raft paper/thesis and OVS 3.1's raft.c, one
rule a test, each as a short conversation between scripted nodes."""

from __future__ import annotations

import random

from reference.raft import messages
from reference.raft.durable import replay_json, to_json
from reference.raft.node import LEADER, NodeOptions, RaftNode, bootstrap_state
from reference.raft.ready import BAD_PREREQ, NOT_LEADER, SUCCESS
from tests.reference.raft.scripted import CID, GENESIS, SIDS, Scripted, eid

A, B, C = SIDS["a"], SIDS["b"], SIDS["c"]


def data(n: int) -> list:
    return [None, {"T": {"n": n}}]


# --- elections -----------------------------------------------------------------------


def test_election_timeout_is_the_timer_plus_0_to_999_ms():
    seen = set()
    for seed in range(200):
        st = bootstrap_state(A, CID, "T", "tcp:a", {A: "tcp:a", B: "tcp:b"}, [None, {}],
                             GENESIS, 1000)
        node = RaftNode(st, now_ms=5000, rng=random.Random(seed))
        seen.add(node.election_deadline - 5000)
    assert min(seen) >= 1000 and max(seen) <= 1999 and len(seen) > 100


def test_no_election_before_the_timeout_and_one_after():
    s = Scripted()
    s.tick("a", 999)
    assert not s.sent("vote_request")
    s.tick("a", 2000)
    rqs = s.sent("vote_request", src="a")
    assert {m.to for m in rqs} == {B, C}
    assert all(m.term == 2 and not m.is_prevote and not m.leadership_transfer for m in rqs)
    assert s.actions("a")[0] == "Timeout" and "StartElection" not in s.actions("a")


def test_leader_appends_a_noop_on_election_and_commits_it():
    s = Scripted()
    s.elect("a")
    a = s.nodes["a"]
    noop = a.log.entry(a.log.last_index)
    assert noop.term == 2 and noop.data is None and noop.servers is None
    assert a.commit_index == a.log.last_index
    assert {"term": 2, "leader": A} in s.records["a"]
    assert "BecomeLeader" in s.actions("a")


def test_vote_reply_waits_until_the_vote_is_durable():
    s = Scripted(auto_sync=False)
    s.tick("a", 2000)
    s.sync("a")
    s.deliver("vote_request", dst="b")
    assert not s.sent("vote_reply", src="b"), "replied before the vote was fsynced"
    assert {"term": 2, "vote": A} in [to_json(r) for op in s.unsynced["b"] for r in op.records]
    s.sync("b")
    (reply,) = s.sent("vote_reply", src="b")
    assert reply.vote == A and reply.term == 2


def test_planted_bug_vote_before_persist_replies_at_once():
    s = Scripted(auto_sync=False, options=NodeOptions(bugs=frozenset({"vote_before_persist"})))
    s.tick("a", 2000)
    s.sync("a")
    s.deliver("vote_request", dst="b")
    assert s.sent("vote_reply", src="b")


def test_candidate_counts_its_own_vote_only_once_durable():
    s = Scripted(auto_sync=False)
    s.tick("a", 2000)
    s.deliver("vote_request", dst="b")
    s.sync("b")
    s.deliver("vote_reply")
    assert not s.nodes["a"].is_leader
    s.sync("a")
    assert s.nodes["a"].is_leader


def test_vote_withheld_without_reply_when_the_candidate_log_is_behind():
    s = Scripted()
    s.elect("a")
    s.do("a", "propose", data(1), None, eid(1))
    s.deliver("append_request", dst="b")          # b has the entry, c does not
    s.deliver(drop=True)
    s.now = 3500                                   # past b's disruption guard,
    s.do("c", "timeout")                           # c stands with a shorter log
    assert s.deliver("vote_request", src="c", dst="b")
    assert not s.sent("vote_reply", src="b")
    assert s.nodes["b"].term == 3 and s.nodes["b"].vote is None


def test_a_vote_already_given_is_repeated_and_not_changed():
    s = Scripted()
    s.tick("a", 2000)
    s.tick("c", 2000)                              # both stand in term 2
    s.deliver("vote_request", src="a", dst="b")
    s.now = 3500                                   # past b's disruption guard
    s.deliver("vote_request", src="c", dst="b")
    votes = [m.vote for m in s.sent("vote_reply", src="b")]
    assert votes == [A, A]


def test_disruption_guard_follower_ignores_vote_requests_within_a_timer_of_its_leader():
    s = Scripted()
    s.elect("a")
    s.tick("b", 2300)                              # b heard a at ~2000
    s.do("c", "timeout")                           # c stands anyway
    s.deliver("vote_request", src="c", dst="b")
    assert s.nodes["b"].term == 2 and not s.sent("vote_reply", src="b")
    assert s.dropped[-1]["why"] == "disruptive vote request"


def test_a_follower_that_has_heard_no_leader_does_not_suppress_vote_requests():
    # Just (re)started, within a timer of starting: no leader to protect, so a
    # candidate standing after the leader died is heard (a killed leader right after a
    # member restarted otherwise cost a whole election timeout).
    s = Scripted()
    s.tick("b", 500)
    s.do("c", "timeout")
    s.deliver("vote_request", src="c", dst="b")
    assert [m.vote for m in s.sent("vote_reply", src="b")] == [C]


def test_a_follower_that_lost_its_leaders_connections_stands_soon_and_grants_votes():
    s = Scripted()
    s.elect("a")
    s.tick("b", 2300)
    s.tick("c", 2300)
    for n in "bc":
        s.do(n, "leader_disconnected")             # the shell saw a's sockets close
        node = s.nodes[n]
        assert node.leader_sid is None and node.election_deadline < 2300 + 250
    s.do("c", "timeout")
    s.deliver("vote_request", src="c", dst="b")    # b no longer guards a dead leader
    assert [m.vote for m in s.sent("vote_reply", src="b")] == [C]
    s.do("a", "leader_disconnected")               # a leader ignores it
    assert s.nodes["a"].leader_sid == A


def test_leadership_transfer_vote_requests_are_always_processed():
    s = Scripted()
    s.elect("a")
    target = s.do("a", "transfer_leadership")
    assert target in (B, C)
    name = "b" if target == B else "c"
    (bl,) = s.deliver("become_leader")
    assert bl.term == 2
    rqs = s.sent("vote_request", src=name)
    assert rqs and all(m.leadership_transfer and m.term == 3 for m in rqs)
    s.settle()
    assert s.nodes[name].is_leader and not s.nodes["a"].is_leader
    assert {"note": "transfer leadership"} in s.records["a"]
    assert "TransferLeadership" in s.actions("a")
    assert "HandleTimeoutNow" in s.actions(name)


def test_leader_ignores_vote_requests():
    s = Scripted()
    s.elect("a")
    s.do("c", "timeout")
    s.deliver("vote_request", src="c", dst="a")
    assert s.nodes["a"].is_leader and s.nodes["a"].term == 2


def test_leader_steps_down_when_fewer_than_half_the_others_replied():
    s = Scripted()
    s.elect("a")
    a = s.nodes["a"]
    t = 2000
    while a.is_leader and t < 8000:               # nobody answers any more
        t += 100
        s.tick("a", t)
        s.deliver(drop=True)
    assert not a.is_leader and a.role == "Follower"
    assert any(e["action"] == "StepDown" and e.get("reason") == "lost quorum"
               for e in s.events)


def test_leader_keeps_leading_while_one_of_two_followers_answers():
    s = Scripted()
    s.elect("a")
    for t in range(2100, 8000, 100):
        s.tick("a", t)
        s.deliver(dst="c", drop=True)
        s.settle()
    assert s.nodes["a"].is_leader


def test_heartbeats_every_third_of_the_timer():
    s = Scripted()
    s.elect("a")
    s.outbox.clear()
    s.tick("a", 2000 + 340)
    beats = s.sent("append_request", src="a")
    assert beats and all(m.comment == "heartbeat" and m.log == () for m in beats)


def test_prevote_keeps_the_term_and_persists_nothing():
    s = Scripted(options=NodeOptions(prevote=True))
    s.tick("a", 2000)
    rqs = s.sent("vote_request", src="a")
    assert all(m.is_prevote and m.term == 1 for m in rqs)
    assert s.nodes["a"].term == 1 and s.nodes["a"].role == "PreCandidate"
    before = list(s.records["b"])
    s.deliver("vote_request", dst="b")
    assert s.records["b"] == before
    (rp,) = s.sent("vote_reply", src="b")
    assert rp.is_prevote and rp.vote == A
    s.deliver("vote_reply")
    assert s.nodes["a"].term == 2 and s.nodes["a"].role == "Candidate"
    assert s.actions("a")[-1] == "StartElection"
    assert all(not m.is_prevote for m in s.sent("vote_request", src="a") if m.term == 2)
    s.settle()
    assert s.nodes["a"].is_leader


def test_prevote_off_by_default_never_sends_is_prevote():
    s = Scripted()
    s.elect("a")
    for m in s.sent() + []:
        assert "is_prevote" not in messages.message_to_json(m)[1][0]


# --- replication and commit ----------------------------------------------------------


def test_append_reply_waits_until_the_entries_are_durable():
    s = Scripted(auto_sync=False)
    s.tick("a", 2000)
    s.sync("a")
    s.deliver("vote_request")
    s.sync("b")
    s.sync("c")
    s.deliver("vote_reply")
    s.sync("a")
    s.deliver("append_request", dst="b")
    assert not s.sent("append_reply", src="b")
    s.sync("b")
    (rp,) = s.sent("append_reply", src="b")
    assert rp.result == "OK" and rp.log_end == 3


def _figure8_scenario(bug: str = "") -> int:
    # Raft's Figure 8 rule: a leader of term 3 that finds an uncommitted term-2 entry
    # on a majority must not commit it until an entry of its own term is there too.
    # Returns the new leader's commit index once the old entry is on a majority.
    opts = NodeOptions(max_batch=1, max_inflight=1,
                       bugs=frozenset({bug} if bug else set()))
    s = Scripted(options=opts)
    s.elect("a")
    s.do("a", "propose", data(1), None, eid(1))   # index 3, term 2
    s.deliver("append_request", dst="b")          # b stores it
    s.deliver(drop=True)                          # nobody hears more: no commit
    assert s.nodes["a"].commit_index == 2
    # b stands (term 3) and wins with c; a's entry 3 is on b already.
    s.tick("b", 4000)
    s.deliver("vote_request", dst="c")
    s.deliver("vote_request", dst="a", drop=True)
    s.deliver("vote_reply")
    b = s.nodes["b"]
    assert b.is_leader and b.term == 3
    # b's first append carries entry 3 (term 2) alone (batch 1): c stores it.
    s.deliver("append_request", dst="a", drop=True)
    s.deliver("append_request", dst="c")
    s.deliver("append_reply")                      # inconsistency: c lacks 3
    s.deliver("append_request", dst="c")           # entry 3 alone
    s.deliver("append_reply", src="c")
    return b.commit_index


def test_figure8_rule_holds():
    assert _figure8_scenario() == 2


def test_planted_bug_figure8_commits_an_earlier_terms_entry():
    assert _figure8_scenario("figure8_commit") == 3


def test_many_commands_per_append_and_several_appends_in_flight():
    s = Scripted(options=NodeOptions(max_batch=4, max_inflight=3))
    s.elect("a")
    for i in range(20):
        s.nodes["a"].propose(data(i), None, eid(i))
    s.flush("a")
    to_b = s.sent("append_request", dst="b")
    assert [len(m.log) for m in to_b] == [1, 1, 1], "three in flight, then wait"
    s.deliver("append_request", dst="b")
    s.deliver("append_reply", src="b")
    assert [len(m.log) for m in s.sent("append_request", dst="b")] == [4, 4, 4]
    s.settle()
    assert s.nodes["a"].commit_index == 22
    assert [r.status for r in s.replies["a"]] == [SUCCESS] * 20
    s.heartbeat("a")
    assert [c.eid for c in s.committed["b"]][-20:] == [eid(i) for i in range(20)]


def test_follower_truncates_a_conflicting_suffix():
    s = Scripted()
    s.elect("a")
    s.do("a", "propose", data(1), None, eid(1))
    s.deliver(drop=True)                           # only a has index 3 (term 2)
    s.tick("b", 5000)
    s.settle()
    assert s.nodes["b"].is_leader
    s.do("b", "propose", data(2), None, eid(2))
    s.settle()
    s.heartbeat("b")
    a = s.nodes["a"]
    assert a.log.entry(3).term == 3 and a.log.entry(3).eid is None  # b's no-op
    assert [c.eid for c in s.committed["a"] if c.eid] == [eid(2)]


def test_stale_term_append_request_gets_an_inconsistency_reply():
    s = Scripted()
    s.elect("a")
    s.nodes["b"].step(messages.AppendRequest(sender=A, to=B, cluster=CID, term=1,
                                      prev_log_index=1, prev_log_term=1, leader_commit=1))
    s.flush("b")
    (rp,) = s.sent("append_reply", src="b")
    assert rp.result == "inconsistency" and rp.comment == "stale term" and rp.term == 2


def test_messages_from_strangers_or_other_clusters_are_dropped():
    s = Scripted()
    other = "99999999-0000-4000-8000-000000000000"
    for msg in (messages.BecomeLeader(sender=A, to=B, cluster=other, term=9),
                messages.BecomeLeader(sender=other, to=B, cluster=CID, term=9),
                messages.BecomeLeader(sender=A, to=C, cluster=CID, term=9)):
        s.nodes["b"].step(msg)
        s.flush("b")
    assert s.nodes["b"].term == 1
    assert [d["why"] for d in s.dropped] == [
        "wrong cluster", "unknown server", "misrouted"]


# --- commands ------------------------------------------------------------------------


def test_forwarded_command_with_the_right_prereq_commits_and_replies_with_commit_index():
    s = Scripted()
    s.elect("a")
    b = s.nodes["b"]
    s.do("b", "propose", data(1), b.applied_eid, eid(1))
    (rq,) = s.sent("execute_command_request", src="b")
    assert rq.prereq == GENESIS and rq.result == eid(1) and rq.to == A
    s.settle()
    # The leader tells its followers of a commit at once, not at the next heartbeat, so
    # b learns it without waiting; its success waits until b itself has the commit.
    assert s.replies["b"][-1].status == SUCCESS and s.replies["b"][-1].commit_index == 3
    assert b.commit_index >= 3
    assert s.actions("b").count("Forward") == 1 and "HandleForward" in s.actions("a")


def test_prereq_is_checked_against_the_leaders_uncommitted_entries_too():
    s = Scripted()
    s.elect("a")
    s.do("a", "propose", data(1), None, eid(1))   # uncommitted on a
    s.outbox.clear()
    s.do("b", "propose", data(2), GENESIS, eid(2))
    s.deliver("execute_command_request")
    (rp,) = s.sent("execute_command_reply")
    assert rp.status == BAD_PREREQ
    s.deliver("execute_command_reply")
    assert s.replies["b"][-1].status == BAD_PREREQ


def test_planted_bug_prereq_unchecked_appends_anyway():
    s = Scripted(options=NodeOptions(bugs=frozenset({"prereq_unchecked"})))
    s.elect("a")
    s.do("a", "propose", data(1), None, eid(1))
    s.do("b", "propose", data(2), GENESIS, eid(2))
    s.deliver("execute_command_request")
    assert s.nodes["a"].log.current_eid == eid(2)


def test_leader_repeats_in_progress_with_heartbeats():
    s = Scripted()
    s.elect("a")
    s.do("b", "propose", data(1), GENESIS, eid(1))
    s.deliver("execute_command_request")
    s.deliver("append_request", drop=True)        # no replication
    s.tick("a", 2400)
    s.tick("a", 2800)
    progress = s.sent("execute_command_reply", dst="b")
    assert len(progress) == 2
    assert all(m.status == "operation still in progress" and m.commit_index is None
               for m in progress)


def test_proposal_without_a_known_leader_is_not_leader():
    s = Scripted()
    s.do("b", "propose", data(1), None, eid(1))
    assert s.replies["b"] == [type(s.replies["b"][0])(eid(1), NOT_LEADER, 0)]


def test_follower_resends_a_lost_forward_once_with_the_same_prereq_then_times_out():
    s = Scripted()
    s.elect("a")
    s.do("b", "propose", data(1), GENESIS, eid(1))
    s.deliver("execute_command_request", drop=True)
    for t in range(2100, 5200, 100):
        s.tick("b", t)
    resent = s.sent("execute_command_request", src="b")
    assert resent and all(m.prereq == GENESIS and m.result == eid(1) for m in resent)
    assert s.replies["b"][-1].status == "timeout"


# --- snapshots -----------------------------------------------------------------------


def test_follower_compaction_rewrites_the_file_and_replays():
    s = Scripted()
    s.elect("a")
    for i in range(5):
        s.do("a", "propose", data(i), None, eid(i))
    s.settle()
    s.heartbeat("a")
    b = s.nodes["b"]
    assert s.do("b", "take_snapshot", b.commit_index, [None, {"kv": {"x": 1}}])
    assert s.records["b"][0]["prev_index"] == b.commit_index
    assert s.records["b"][0]["prev_eid"] == eid(4)
    st = replay_json(s.records["b"])
    assert st.log.snapshot.index == b.commit_index and st.term == b.term
    assert not s.do("a", "take_snapshot", 3, [None, {}]), "a leader does not compact"


def test_install_snapshot_for_a_follower_behind_the_leaders_log_start():
    s = Scripted()
    s.elect("a")
    s.cut = {"c"}                                  # c misses everything from here
    for i in range(3):
        s.do("a", "propose", data(i), None, eid(i))
    s.settle()
    s.heartbeat("a")
    assert s.do("a", "transfer_leadership") == B   # the most caught-up follower
    s.settle()
    assert s.nodes["b"].is_leader
    s.heartbeat("b")
    a = s.nodes["a"]
    assert s.do("a", "take_snapshot", a.commit_index, [None, {"kv": {"snap": 1}}])
    assert s.do("b", "transfer_leadership") == A
    s.settle()
    assert a.is_leader and a.log.start > 2
    s.cut = set()
    s.heartbeat("a")
    s.heartbeat("a")
    assert "HandleInstallSnapshot" in s.actions("c")
    c = s.nodes["c"]
    assert c.log.snapshot.data == [None, {"kv": {"snap": 1}}]
    assert c.commit_index == a.commit_index
    assert s.records["c"][0]["prev_index"] == c.log.snapshot.index


def test_restart_replays_term_vote_log_and_commit_index():
    s = Scripted()
    s.elect("a")
    s.do("a", "propose", data(1), None, eid(1))
    s.settle()
    s.heartbeat("a")
    st = replay_json(s.records["b"])
    assert st.term == 2 and st.vote == A and st.log.last_index == 3
    node = RaftNode(st, now_ms=9000, rng=random.Random(1), restarted=True)
    r = node.ready()
    assert r.snapshot is not None and r.events[0]["action"] == "Restart"
    assert node.commit_index == 3 and [c.eid for c in r.committed if c.eid] == [eid(1)]
    assert node.role != LEADER


def test_change_election_timer_is_appended_and_takes_effect_on_commit():
    s = Scripted()
    s.elect("a")
    assert s.do("b", "change_election_timer", 2000) == "not leader"
    assert s.do("a", "change_election_timer", 5000) == "too large"   # more than doubling
    assert s.do("a", "change_election_timer", 700000) == "out of range"
    assert s.do("a", "change_election_timer", 2000) == "change in progress"
    assert s.do("a", "change_election_timer", 1500) == "in progress"
    assert s.do("a", "change_election_timer", 50) == "in progress"   # pending comes first
    a = s.nodes["a"]
    assert messages.entry_to_json(a.log.entry(a.log.last_index)) == {"term": 2, "election_timer": 2000}
    assert a.election_timer == 1000 and a.pending_election_timer == 2000
    s.settle()
    s.heartbeat("a")
    assert a.election_timer == 2000 and s.nodes["b"].election_timer == 2000
    assert a.pending_election_timer is None


def test_append_reply_comments_are_raft_cs():
    s = Scripted()
    s.elect("a")
    s.do("a", "propose", data(1), None, eid(1))
    s.deliver("append_request", dst="b")
    assert [m.comment for m in s.sent("append_reply", src="b")] == ["log updated"]
    s.settle()
    s.heartbeat("a")
    s.heartbeat("a")
    assert {m.comment for m in s.delivered if m.METHOD == "append_reply"} >= {
        "heartbeat", "log updated"}
    s.nodes["c"].step(messages.AppendRequest(sender=A, to=C, cluster=CID, term=2,
                                      prev_log_index=40, prev_log_term=2, leader_commit=1))
    s.flush("c")
    (rp,) = s.sent("append_reply", src="c")
    assert rp.result == "inconsistency" and rp.comment == "mismatch past end of log"


def test_a_second_leader_in_a_term_is_refused_as_usurper():
    s = Scripted()
    s.elect("a")
    s.nodes["b"].step(messages.AppendRequest(sender=C, to=B, cluster=CID, term=2,
                                      prev_log_index=2, prev_log_term=2, leader_commit=2))
    s.flush("b")
    (rp,) = s.sent("append_reply", src="b")
    assert rp.comment == "usurped leadership" and rp.result == "inconsistency"
    assert s.nodes["b"].leader_sid == A


def test_appends_from_a_leader_outside_our_configuration_are_accepted():
    # Thesis 4.1: a follower whose log lacks the entry that added its new leader must
    # still take that leader's appends, or it never learns the configuration.
    s = Scripted()
    stranger = SIDS["e"]
    s.nodes["b"].step(messages.AppendRequest(sender=stranger, to=B, cluster=CID, term=5,
                                      prev_log_index=1, prev_log_term=1, leader_commit=1,
                                      log=(messages.Entry(5, 2),)))
    s.flush("b")
    assert s.nodes["b"].leader_sid == stranger and s.nodes["b"].log.last_index == 2
    s.nodes["b"].step(messages.VoteRequest(sender=stranger, to=B, cluster=CID, term=9,
                                    last_log_index=9, last_log_term=9,
                                    leadership_transfer=True))
    s.flush("b")
    assert s.nodes["b"].term == 5 and s.dropped[-1]["why"] == "unknown server"


def test_appended_entries_take_their_place_after_prev_log_index():
    # On the wire an entry has no index; an AppendRequest built in memory may carry any.
    s = Scripted()
    s.nodes["b"].step(messages.AppendRequest(sender=A, to=B, cluster=CID, term=2,
                                      prev_log_index=1, prev_log_term=1, leader_commit=1,
                                      log=(messages.Entry(2, 0), messages.Entry(2, 99))))
    s.flush("b")
    log = s.nodes["b"].log
    assert log.last_index == 3 and [log.entry(i).index for i in (2, 3)] == [2, 3]
    assert [r["index"] for r in s.records["b"] if "index" in r] == [2, 3]
