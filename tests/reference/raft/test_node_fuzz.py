"""Hostile but well-formed input never crashes a node: random Raft messages (stale and
future terms, unknown senders, other clusters, indexes past any log, duplicates) mixed
with ticks, syncs and commands."""

from __future__ import annotations

from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from reference.raft import messages
from tests.reference.raft.scripted import CID, GENESIS, SIDS, Scripted, eid

OTHER_CID = "99999999-0000-4000-8000-000000000000"
sids = st.sampled_from([SIDS["a"], SIDS["c"], SIDS["e"]])
clusters = st.sampled_from([CID, CID, OTHER_CID])
small = st.integers(0, 12)
# Indexes are set as parse_message sets them (prev_log_index + 1 + position) or left at
# 0: the node places an entry by its position either way.
entries = st.lists(st.builds(messages.Entry, term=small, index=st.just(0),
                             data=st.sampled_from([None, [None, {"T": {}}]]),
                             eid=st.just(UUID(eid(7)))).map(
    lambda e: e if e.data is not None else messages.Entry(e.term, 0)), max_size=4)


raft_messages = st.one_of(
    st.builds(lambda s, c, t, p, pt, lc, log: messages.AppendRequest(
        sender=s, to=SIDS["b"], cluster=c, term=t, prev_log_index=p, prev_log_term=pt,
        leader_commit=lc, log=tuple(log)), sids, clusters, small, small, small, small,
        entries),
    st.builds(lambda s, c, t, e, n, r: messages.AppendReply(
        sender=s, to=SIDS["b"], cluster=c, term=t, log_end=e, prev_log_index=n,
        prev_log_term=t, n_entries=n, result=r), sids, clusters, small, small, small,
        st.sampled_from(messages.APPEND_RESULTS)),
    st.builds(lambda s, c, t, i, lt, tr, pv: messages.VoteRequest(
        sender=s, to=SIDS["b"], cluster=c, term=t, last_log_index=i, last_log_term=lt,
        leadership_transfer=tr, is_prevote=pv), sids, clusters, small, small, small,
        st.booleans(), st.booleans()),
    st.builds(lambda s, c, t, v, pv: messages.VoteReply(
        sender=s, to=SIDS["b"], cluster=c, term=t, vote=v, is_prevote=pv), sids,
        clusters, small, sids, st.booleans()),
    st.builds(lambda s, c, t, i, lt: messages.InstallSnapshotRequest(
        sender=s, to=SIDS["b"], cluster=c, term=t, last_index=i, last_term=lt,
        last_eid=GENESIS, last_servers={SIDS["a"]: "x", SIDS["b"]: "y"},
        election_timer=1000, data=[None, {"kv": {}}]), sids, clusters, small, small, small),
    st.builds(lambda s, c, t, i: messages.InstallSnapshotReply(
        sender=s, to=SIDS["b"], cluster=c, term=t, last_index=i, last_term=t), sids,
        clusters, small, small),
    st.builds(lambda s, c, t: messages.BecomeLeader(sender=s, to=SIDS["b"], cluster=c, term=t),
              sids, clusters, small),
    st.builds(lambda s, c, p: messages.ExecuteCommandRequest(
        sender=s, to=SIDS["b"], cluster=c, data=[None, {}], prereq=p, result=eid(9)),
        sids, clusters, st.sampled_from([GENESIS, eid(7)])),
    st.builds(lambda s, c, stt, ci: messages.ExecuteCommandReply(
        sender=s, to=SIDS["b"], cluster=c, result=eid(3), status=stt, commit_index=ci),
        sids, clusters, st.sampled_from(messages.COMMAND_STATUSES), st.one_of(st.none(), small)),
    st.builds(lambda s, c: messages.AddServerRequest(sender=s, to=None, cluster=None,
                                              address="tcp:x:1"), sids, clusters),
    st.builds(lambda s, c, t: messages.RemoveServerRequest(sender=s, to=SIDS["b"], cluster=c,
                                                    server_id=t), sids, clusters, sids),
)
actions = st.one_of(raft_messages, st.sampled_from(["tick", "sync", "propose", "snapshot",
                                               "transfer", "kick", "leave"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(actions, max_size=40))
def test_random_input_never_crashes_the_node(script):
    s = Scripted(auto_sync=False)
    b = s.nodes["b"]
    now = 0
    for i, act in enumerate(script):
        if isinstance(act, messages.Message):
            b.step(messages.parse_message(*messages.message_to_json(act)))
        elif act == "tick":
            now += 400
            b.tick(now)
        elif act == "sync":
            s.sync("b")
        elif act == "propose":
            b.propose([None, {"T": {"i": i}}], b.applied_eid, eid(100 + i))
        elif act == "snapshot":
            b.take_snapshot(b.commit_index, [None, {"kv": {}}])
        elif act == "transfer":
            b.transfer_leadership()
        elif act == "kick":
            b.kick(SIDS["c"])
        else:
            b.leave()
        s.flush("b")
        assert b.log.start <= b.commit_index + 1 and b.commit_index <= b.log.last_index
        assert b.term >= 1
