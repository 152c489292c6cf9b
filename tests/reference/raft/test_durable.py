"""A node's durable state comes back from the clustered file's records through the
storage layer's parser and replay (raft.c's rules); the node's adaptation keeps sids and
eids as strings and the snapshot as its log's base."""

from __future__ import annotations

import pytest

from reference.raft.durable import (
    header,
    join_header,
    replay,
    replay_json,
    to_json,
)
from reference.raft.log import Snapshot
from reference.storage.cluster_records import ClusterFormatError, Term

A = "aaaaaaaa-0000-4000-8000-000000000000"
B = "bbbbbbbb-0000-4000-8000-000000000000"
CID = "c1d00000-0000-4000-8000-000000000000"
EID = "e1d00000-0000-4000-8000-000000000000"
HEADER = header(A, CID, "T", "tcp:a:6641",
                Snapshot(1, 1, EID, {A: "tcp:a:6641"}, 1000, [None, {}]))
HEAD = to_json(HEADER)


def test_header_has_ovs_keys():
    assert set(HEAD) == {"server_id", "cluster_id", "name", "local_address", "prev_servers",
                         "prev_index", "prev_term", "prev_eid", "prev_data",
                         "prev_election_timer"}


def test_a_log_replays_to_term_vote_entries_and_commit():
    st = replay_json([HEAD, {"term": 2}, {"term": 2, "vote": A}, {"term": 2, "leader": A},
                      {"term": 2, "index": 2}, {"term": 2, "index": 3, "data": [None, {}],
                                                "eid": B},
                      {"commit_index": 3}, {"term": 3}, {"note": "transfer leadership"}])
    assert (st.term, st.vote, st.commit_index, st.log.last_index) == (3, None, 3, 3)
    assert st.log.current_eid == B and isinstance(st.log.current_eid, str)
    assert (st.sid, st.cid, st.log.snapshot.eid) == (A, CID, EID)


def test_the_vote_comes_back_as_a_string():
    st = replay_json([HEAD, {"term": 2, "vote": B}])
    assert (st.term, st.vote) == (2, B)


def test_an_entry_below_the_end_truncates():
    st = replay_json([HEAD, {"term": 2, "index": 2}, {"term": 2, "index": 3},
                      {"term": 3, "index": 3}])
    assert st.log.last_index == 3 and st.log.entry(3).term == 3


@pytest.mark.parametrize("records,error", [
    ([{"term": 2, "index": 3}], "skips past"),
    ([{"term": 2, "index": 2}, {"commit_index": 2}, {"term": 2, "index": 1}], "commit index"),
    ([{"term": 3, "index": 2}, {"term": 2, "index": 3}], "precedes previous"),
    ([{"term": 2, "vote": A}, {"term": 2, "vote": B}], "previous record for the same term"),
    ([{"term": 2, "index": 2}, {"commit_index": 2}, {"commit_index": 1}], "regresses"),
    ([{"commit_index": 5}], "last log index"),
    ([{"note": "left"}], "has left the cluster"),
    ([{"surprise": 1}], "'term' member is missing"),
    ([{"term": 2, "index": 2, "extra": 1}], "not allowed here"),
])
def test_bad_logs_are_refused(records, error):
    with pytest.raises(ClusterFormatError, match=error):
        replay_json([HEAD, *records])


def test_values_replay_as_their_json_does():
    assert replay([HEADER, Term(4)]).term == replay_json([HEAD, {"term": 4}]).term == 4
    with pytest.raises(ClusterFormatError, match="header"):
        replay([Term(4)])
    with pytest.raises(ClusterFormatError, match="header"):
        replay([HEADER, HEADER])


def test_a_join_cluster_header_replays_to_an_empty_log():
    st = replay_json([to_json(join_header(B, "T", "tcp:b:6641", ["tcp:a:6641"]))])
    assert st.cid is None and st.remote_addresses == ["tcp:a:6641"]
    assert st.log.last_index == 0 and st.log.servers_through(0) == {}
    with pytest.raises(ClusterFormatError, match="header"):
        replay_json([{"server_id": B}])
    with pytest.raises(ClusterFormatError, match="no header"):
        replay_json([])
