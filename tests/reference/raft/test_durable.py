"""The clustered file's records replay as raft.c replays them, errors included."""

from __future__ import annotations

import pytest

from reference.raft.durable import ReplayError, header_record, join_header_record, replay
from reference.raft.log import Snapshot

A = "aaaaaaaa-0000-4000-8000-000000000000"
B = "bbbbbbbb-0000-4000-8000-000000000000"
CID = "c1d00000-0000-4000-8000-000000000000"
EID = "e1d00000-0000-4000-8000-000000000000"
HEAD = header_record(A, CID, "T", "tcp:a", Snapshot(1, 1, EID, {A: "tcp:a"}, 1000, [None, {}]))


def test_header_has_ovs_keys():
    assert set(HEAD) == {"server_id", "cluster_id", "name", "local_address", "prev_servers",
                         "prev_index", "prev_term", "prev_eid", "prev_data",
                         "prev_election_timer"}


def test_a_log_replays_to_term_vote_entries_and_commit():
    st = replay([HEAD, {"term": 2}, {"term": 2, "vote": A}, {"term": 2, "leader": A},
                 {"term": 2, "index": 2}, {"term": 2, "index": 3, "data": [None, {}],
                                           "eid": B},
                 {"commit_index": 3}, {"term": 3}, {"note": "transfer leadership"}])
    assert (st.term, st.vote, st.commit_index, st.log.last_index) == (3, None, 3, 3)
    assert st.log.current_eid == B


def test_an_entry_below_the_end_truncates():
    st = replay([HEAD, {"term": 2, "index": 2}, {"term": 2, "index": 3},
                 {"term": 3, "index": 3}])
    assert st.log.last_index == 3 and st.log.entry(3).term == 3


@pytest.mark.parametrize("records,error", [
    ([{"term": 2, "index": 3}], "skips ahead"),
    ([{"term": 2, "index": 2}, {"commit_index": 2}, {"term": 2, "index": 1}], "commit"),
    ([{"term": 3, "index": 2}, {"term": 2, "index": 3}], "term 2 <"),
    ([{"term": 2, "vote": A}, {"term": 2, "vote": B}], "two votes"),
    ([{"term": 2, "index": 2}, {"commit_index": 2}, {"commit_index": 1}], "regresses"),
    ([{"commit_index": 5}], "past the last log index"),
    ([{"note": "left"}], "left the cluster"),
    ([{"surprise": 1}], "unknown record"),
    ([{"term": 2, "index": 2, "extra": 1}], "unknown member"),
])
def test_bad_logs_are_refused(records, error):
    with pytest.raises(ReplayError, match=error):
        replay([HEAD, *records])


def test_a_join_cluster_header_replays_to_an_empty_log():
    st = replay([join_header_record(B, "T", "tcp:b", ["tcp:a"])])
    assert st.cid is None and st.remote_addresses == ["tcp:a"]
    assert st.log.last_index == 0 and st.log.servers_through(0) == {}
    with pytest.raises(ReplayError, match="header"):
        replay([{"server_id": B}])
