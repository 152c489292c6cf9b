"""OVS 3.1's Raft messages: exact keys out, strict parsing in (OVS-RAFT.md section 2)."""

from __future__ import annotations

import copy
from uuid import UUID

import pytest

from reference.raft import messages
from reference.raft.messages import (
    RaftParseError,
    entry_from_json,
    entry_to_json,
    message_to_json,
    parse_message,
)
from reference.storage.cluster_records import Entry, parse_record, record_to_json

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
CID = "33333333-3333-4333-8333-333333333333"
EID = "44444444-4444-4444-8444-444444444444"


def common(to: bool = True, cluster: bool = True) -> dict:
    out = {"from": A}
    if to:
        out["to"] = B
    if cluster:
        out["cluster"] = CID
    return out


# Each message as OVS 3.1 writes it (raft-rpc.c), with every optional member it may have.
WIRE = {
    "hello_request": {**common(to=False), "address": "tcp:127.0.0.1:6644"},
    "append_request": {**common(), "term": 3, "prev_log_index": 5, "prev_log_term": 2,
                       "leader_commit": 4, "comment": "heartbeat", "log": [
                           {"term": 3},
                           {"term": 3, "data": [None, {"T": {}}], "eid": EID},
                           {"term": 3, "servers": {A: "tcp:1:1", B: "tcp:2:2"}},
                           {"term": 3, "election_timer": 2000}]},
    "append_reply": {**common(), "term": 3, "log_end": 7, "prev_log_index": 5,
                     "prev_log_term": 2, "n_entries": 1, "result": "OK"},
    "vote_request": {**common(), "term": 4, "last_log_index": 9, "last_log_term": 3,
                     "leadership_transfer": True},
    "vote_reply": {**common(), "term": 4, "vote": A},
    "add_server_request": {"from": A, "address": "tcp:127.0.0.1:6644"},
    "add_server_reply": {**common(), "success": False, "comment": "not leader",
                         "remote_addresses": ["tcp:127.0.0.1:6645"]},
    "remove_server_request": {**common(), "server_id": B, "comment": "via unixctl"},
    "remove_server_reply": {**common(), "success": True, "target_server": A},
    "install_snapshot_request": {**common(), "term": 3, "last_index": 10, "last_term": 2,
                                 "last_eid": EID, "last_servers": {A: "tcp:1:1"},
                                 "election_timer": 1000, "data": [{"name": "S"}, {}]},
    "install_snapshot_reply": {**common(), "term": 3, "last_index": 10, "last_term": 2},
    "become_leader": {**common(), "term": 3},
    "execute_command_request": {**common(), "data": [None, {}], "prereq": EID,
                                "result": A},
    "execute_command_reply": {**common(), "result": EID, "status": "success",
                              "commit_index": 12},
}


def test_every_message_of_ovs_raft_md_has_a_type():
    assert set(messages.MESSAGE_TYPES) == set(WIRE)


@pytest.mark.parametrize("method", sorted(WIRE))
def test_round_trip_gives_exactly_the_keys_ovs_sends(method):
    msg = parse_message(method, [copy.deepcopy(WIRE[method])])
    assert message_to_json(msg) == (method, [WIRE[method]])


@pytest.mark.parametrize("method", sorted(WIRE))
def test_an_unknown_member_is_refused(method):
    with pytest.raises(RaftParseError, match="unknown member"):
        parse_message(method, [{**WIRE[method], "surprise": 1}])


@pytest.mark.parametrize("method", sorted(WIRE))
def test_each_required_member_missing_is_refused(method):
    for key in WIRE[method]:
        if key in ("comment", "leadership_transfer", "remote_addresses", "target_server",
                   "commit_index"):
            continue
        bad = {k: v for k, v in WIRE[method].items() if k != key}
        with pytest.raises(RaftParseError):
            parse_message(method, [bad])


@pytest.mark.parametrize("method,key,value", [
    ("append_request", "term", "3"), ("append_request", "term", True),
    ("append_request", "log", {}), ("append_request", "prev_log_index", 1.5),
    ("append_reply", "result", "maybe"), ("vote_request", "leadership_transfer", 1),
    ("vote_reply", "vote", "not-a-uuid"), ("add_server_reply", "success", "yes"),
    ("install_snapshot_request", "last_servers", {}), ("install_snapshot_request", "data", 5),
    ("execute_command_reply", "status", "fine"), ("hello_request", "from", 7),
    ("become_leader", "cluster", "x"),
])
def test_wrong_types_are_refused(method, key, value):
    with pytest.raises(RaftParseError):
        parse_message(method, [{**WIRE[method], key: value}])


def test_envelope_errors():
    with pytest.raises(RaftParseError, match="unknown method"):
        parse_message("append_everything", [{}])
    with pytest.raises(RaftParseError, match="params"):
        parse_message("become_leader", [WIRE["become_leader"], {}])
    with pytest.raises(RaftParseError, match="not an object"):
        parse_message("become_leader", ["x"])


def test_entry_rules():
    with pytest.raises(RaftParseError):  # data without eid
        entry_from_json({"term": 1, "data": [None, {}]}, 2)
    with pytest.raises(RaftParseError):  # eid without data
        entry_from_json({"term": 1, "eid": EID}, 2)
    with pytest.raises(RaftParseError, match="unknown member"):
        entry_from_json({"term": 1, "index": 2}, 2)
    e = Entry(2, 7, [None, {}], UUID(EID), {A: "x"}, 3000, comment="only in files")
    assert entry_to_json(e) == {"term": 2, "data": [None, {}], "eid": EID,
                                "servers": {A: "x"}, "election_timer": 3000}
    assert entry_from_json(entry_to_json(e), 7) == e
    assert entry_to_json(Entry(2, 7)) == {"term": 2}


def test_append_request_entries_are_the_file_entries_at_their_indexes():
    # One Entry type: the wire's entry is the file's record without its index, which
    # follows from prev_log_index.
    rq = parse_message("append_request", [WIRE["append_request"]])
    assert [e.index for e in rq.log] == [6, 7, 8, 9]
    for e, obj in zip(rq.log, WIRE["append_request"]["log"], strict=True):
        assert record_to_json(e) == {**obj, "index": e.index}
        assert parse_record(record_to_json(e)) == e


def test_uint64_written_negative_is_read_back():
    msg = parse_message("become_leader", [{**WIRE["become_leader"], "term": -1}])
    assert msg.term == 2**64 - 1


def test_is_prevote_is_never_sent_unless_set():
    rq = messages.VoteRequest(sender=A, to=B, cluster=CID, term=1, last_log_index=1, last_log_term=1)
    assert "is_prevote" not in message_to_json(rq)[1][0]
    assert "leadership_transfer" not in message_to_json(rq)[1][0]
    pre = messages.VoteRequest(sender=A, to=B, cluster=CID, term=1, last_log_index=1,
                        last_log_term=1, is_prevote=True)
    assert message_to_json(pre)[1][0]["is_prevote"] is True
    assert parse_message(*message_to_json(pre)) == pre


def test_cluster_is_omitted_when_unknown_and_required_otherwise():
    hello = messages.HelloRequest(sender=A, to=None, cluster=None, address="tcp:1")
    assert "cluster" not in message_to_json(hello)[1][0]
    with pytest.raises(RaftParseError, match="cluster"):
        parse_message(*message_to_json(hello))


def test_entry_indexes_beyond_uint64_are_refused():
    # Found by the raft fuzz target: prev_log_index 2^64-1 with one entry parsed, and
    # the entry's index 2^64 then failed to serialise (ValueError).
    args = {**WIRE["append_request"], "prev_log_index": -1, "log": [{"term": 3}]}
    with pytest.raises(messages.RaftParseError, match="beyond uint64"):
        messages.parse_message("append_request", [args])
    args["log"] = []
    assert messages.parse_message("append_request", [args]).prev_log_index == 2 ** 64 - 1
