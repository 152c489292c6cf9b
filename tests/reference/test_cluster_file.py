"""The clustered file on its own: strict record parsing, OVS's replay rules, durable
appends, compaction, damage, locking.  Interop with the real ovsdb-tool and
ovsdb-server is in test_cluster_file_interop.py."""

from __future__ import annotations

import logging
import os
from uuid import UUID, uuid4

import orjson
import pytest

from reference.storage import cluster_file, log_file
from reference.storage.cluster_data import load_database, snapshot_data, standalone_records
from reference.storage.cluster_file import ClusterFile, ClusterLog, read_cluster, replay
from reference.storage.cluster_records import (
    ClusterFormatError,
    ClusterHeader,
    CommitIndex,
    Entry,
    Leader,
    Note,
    Term,
    Vote,
    header_to_json,
    parse_header,
    parse_record,
    record_to_json,
    u64_from_json,
    u64_to_json,
)
from reference.storage.log_file import CLUSTER_MAGIC, CorruptLogError, LockedError

SCHEMA = {"name": "T", "version": "1.0.0",
          "tables": {"A": {"columns": {"n": {"type": "integer"},
                                      "s": {"type": {"key": "string", "min": 0,
                                                     "max": "unlimited"}}}}}}
LOCAL = "tcp:127.0.0.1:6641"
ROW = "8e5dcb43-9b44-4cb2-9f23-4e17b3e8b3a1"


def txn(n: int) -> list:
    return [None, {"A": {ROW: {"n": n}}, "_date": 1_700_000_000_000 + n, "_is_diff": True}]


def new_cluster(tmp_path, name: str = "c.db") -> str:
    path = str(tmp_path / name)
    cluster_file.create_cluster(path, "T", [SCHEMA, {}], LOCAL)
    return path


# ---------------------------------------------------------------------------
# Records: OVS's strict parsing
# ---------------------------------------------------------------------------

RECORDS = [
    Entry(term=1, index=2),
    Entry(term=3, index=7, data=txn(1), eid=uuid4(), comment="x"),
    Entry(term=3, index=8, servers={str(uuid4()): LOCAL}),
    Entry(term=3, index=9, election_timer=2000),
    Term(5), Vote(5, uuid4()), Leader(5, uuid4()), CommitIndex(9),
    Note("left", comment="leaving"), Note("transfer leadership"),
    Entry(term=(1 << 64) - 1, index=(1 << 63) + 5),
]


@pytest.mark.parametrize("rec", RECORDS, ids=lambda r: type(r).__name__)
def test_records_round_trip(rec):
    j = record_to_json(rec)
    assert parse_record(orjson.loads(orjson.dumps(j))) == rec


def test_uint64_is_written_negative_above_int64():
    assert u64_to_json((1 << 63) + 5) == -(1 << 63) + 5
    assert u64_to_json((1 << 63) - 1) == (1 << 63) - 1
    assert u64_from_json(-1) == (1 << 64) - 1
    j = record_to_json(Entry(term=(1 << 64) - 1, index=3))
    assert j["term"] == -1


@pytest.mark.parametrize("obj, message", [
    ({"term": 1, "index": 2, "bogus": 1}, "Member 'bogus' is present but not allowed"),
    ({"term": 1, "index": 2, "x": 1, "y": 2}, "Member 'x' and 1 other member are present"),
    ({"term": 1, "index": 2, "eid": str(uuid4())}, "Member 'eid' is present"),
    ({"term": 1, "index": 2, "data": txn(1)}, "Required 'eid' member is missing"),
    ({"term": 1, "vote": str(uuid4()), "index": 3}, "Member 'index' is present"),
    ({"note": "left", "term": 1}, "Member 'term' is present"),
    ({"commit_index": 0}, "Required 'term' member is missing"),
    ({"term": "1"}, "Type mismatch for member 'term'"),
    ({"term": True}, "Type mismatch for member 'term'"),
    ({"term": 1.0}, "Type mismatch for member 'term'"),
    ({"term": 1, "vote": "nope"}, "vote is not a valid UUID"),
    ({"term": 1, "vote": "00000000-0000-0000-0000-000000000000"}, "all-zeros SID"),
    ({"term": 1, "index": 2, "servers": {}}, "must have at least one server"),
    ({"term": 1, "index": 2, "servers": {"x": LOCAL}}, "x is not a UUID"),
    ({"term": 1, "index": 2, "servers": {str(uuid4()): "udp:1.2.3.4:5"}},
     'expected "tcp" or "ssl" address'),
    ({"term": 1, "index": 2, "data": 5, "eid": str(uuid4())}, "Type mismatch for member 'data'"),
])
def test_bad_records_are_refused(obj, message):
    with pytest.raises(ClusterFormatError, match="Parsing raft log record failed|syntax") as e:
        parse_record(obj)
    assert message in str(e.value)


def test_comment_is_allowed_on_every_record():
    for rec in RECORDS:
        j = record_to_json(rec)
        j["comment"] = "hello"
        assert parse_record(j).comment == "hello"


def test_member_header_and_joining_header():
    sid, cid = uuid4(), uuid4()
    member = ClusterHeader(sid, "T", LOCAL, cid, None, {str(sid): LOCAL}, 5, 2, uuid4(),
                           [SCHEMA, {}], 3000)
    assert parse_header(header_to_json(member)) == member
    joining = ClusterHeader(uuid4(), "T", "tcp:127.0.0.1:2", None, ("tcp:127.0.0.1:1",))
    j = header_to_json(joining)
    assert set(j) == {"server_id", "name", "local_address", "remote_addresses"}
    assert parse_header(j) == joining and parse_header(j).joining
    with pytest.raises(ClusterFormatError, match="Required 'cluster_id'"):
        parse_header({k: v for k, v in header_to_json(member).items() if k != "cluster_id"})
    with pytest.raises(ClusterFormatError, match="Required 'prev_servers'"):
        parse_header({k: v for k, v in header_to_json(member).items() if k != "prev_servers"})
    with pytest.raises(ClusterFormatError, match="'extra' is present"):
        parse_header({**header_to_json(member), "extra": 1})
    with pytest.raises(ClusterFormatError, match="other than the local address"):
        parse_header({**j, "remote_addresses": ["tcp:127.0.0.1:2"]})


# ---------------------------------------------------------------------------
# Replay rules
# ---------------------------------------------------------------------------

def header(prev_index: int = 1, prev_term: int = 1) -> ClusterHeader:
    sid = uuid4()
    return ClusterHeader(sid, "T", LOCAL, uuid4(), None, {str(sid): LOCAL}, prev_index,
                         prev_term, uuid4(), [SCHEMA, {}])


def test_replay_truncates_on_a_lower_index_and_tracks_term_vote_commit():
    a, b = uuid4(), uuid4()
    s = replay(header(), [Term(2), Vote(2, a), Entry(2, 2), Entry(2, 3, txn(1), uuid4()),
                          CommitIndex(2), Entry(3, 3), Leader(3, b), Vote(3, a)])
    assert [e.index for e in s.entries] == [2, 3] and s.entries[1].term == 3
    assert (s.term, s.vote, s.commit_index, s.leader) == (3, a, 2, b)
    assert s.log_start == 2 and s.log_end == 4


@pytest.mark.parametrize("records, message", [
    ([Entry(1, 3)], "record 1 with index 3 skips past expected index 2"),
    ([Entry(1, 2), Entry(1, 3), CommitIndex(3), Entry(1, 2)],
     "record 4 attempts to truncate log from 4 to 2 entries, but commit index is already 3"),
    ([Entry(2, 2), Entry(1, 3)], "record 2 with index 3 term 1 precedes previous entry's term 2"),
    ([Term(3), Vote(2, uuid4())], "record 2 votes for term 2 but current term is 3"),
    ([Vote(2, UUID(int=1)), Vote(2, UUID(int=2))], "in term 2 but a previous record for the"),
    ([Entry(1, 2), Note("left")], "record 2 indicates server has left the cluster"),
    ([Entry(1, 2), Entry(1, 3), CommitIndex(3), CommitIndex(2)],
     "record 4 regresses commit index from 3 to 2"),
    ([Entry(1, 2), CommitIndex(3)], "record 2 advances commit index to 3 but last log index"),
    # found by the cluster_records fuzz target: an entry inside the snapshot was taken
    # (a negative slice truncated nothing) and the log could not be built (ValueError)
    ([Entry(1, 1)], "record 1 with index 1 precedes the log's start 2"),
])
def test_replay_errors(records, message):
    with pytest.raises(ClusterFormatError, match="error reading record") as e:
        replay(header(), records)
    assert message in str(e.value)


def test_replay_accepts_repeated_vote_and_transfer_note():
    a = uuid4()
    s = replay(header(), [Vote(2, a), Vote(2, a), Note("transfer leadership")])
    assert s.vote == a and s.term == 2


def test_a_joining_server_reads_nothing_after_its_header():
    h = ClusterHeader(uuid4(), "T", LOCAL, None, ("tcp:127.0.0.1:9",))
    assert replay(h, [Entry(1, 5)]).entries == []


# ---------------------------------------------------------------------------
# The file: create, append, reopen, compact
# ---------------------------------------------------------------------------

def test_create_cluster_layout(tmp_path):
    path = str(tmp_path / "c.db")
    cluster_file.create_cluster(path, "T", [SCHEMA, {}], LOCAL, election_timer=2000)
    parsed = log_file.read(path, CLUSTER_MAGIC)
    h = parsed.records[0]
    assert h["prev_index"] == 1 and h["prev_term"] == 1 and h["prev_data"] == [SCHEMA, {}]
    assert h["prev_servers"] == {h["server_id"]: LOCAL}
    assert parsed.records[1:] == [{"term": 1, "index": 2, "election_timer": 2000}]
    s = read_cluster(path)
    assert s.election_timer == 2000 and s.log_end == 3
    with pytest.raises(log_file.StorageError, match="File exists"):
        cluster_file.create_cluster(path, "T", [SCHEMA, {}], LOCAL)
    with pytest.raises(log_file.StorageError, match="syntax error in address"):
        cluster_file.create_cluster(str(tmp_path / "d.db"), "T", [SCHEMA, {}], "tcp:1.2.3.4")
    with pytest.raises(log_file.StorageError, match="between 100 and 600000"):
        cluster_file.create_cluster(str(tmp_path / "d.db"), "T", [SCHEMA, {}], LOCAL, 50)


def test_join_cluster_layout(tmp_path):
    path = str(tmp_path / "j.db")
    cid = uuid4()
    cluster_file.join_cluster(path, "T", "tcp:127.0.0.1:2", ["tcp:127.0.0.1:1"], cid)
    h = parse_header(log_file.read(path, CLUSTER_MAGIC).records[0])
    assert h.joining and h.cid == cid and h.remote_addresses == ("tcp:127.0.0.1:1",)
    with pytest.raises(log_file.StorageError, match="cannot be the same"):
        cluster_file.join_cluster(str(tmp_path / "k.db"), "T", LOCAL, [LOCAL])


def test_append_reopen_and_load_database(tmp_path):
    path = new_cluster(tmp_path)
    f, s = ClusterFile.open(path)
    sid = s.header.sid
    with f:
        f.append([Term(2), {"term": 2, "vote": str(sid)}])  # a value or OVS's JSON
        with pytest.raises(ClusterFormatError, match="'x' is present"):
            f.append([{"term": 2, "x": 1}])
        f.append([Entry(2, 2), Entry(2, 3, txn(1), uuid4()), Entry(2, 4, txn(2), e4 := uuid4()),
                  CommitIndex(3)])
        with pytest.raises(ClusterFormatError, match="skips past"):
            f.append([Entry(2, 5), Entry(2, 7)])
        assert f.state.log_end == 5  # the refused batch left no trace, in memory ...
    assert read_cluster(path).log_end == 5  # ... or on disk
    s = read_cluster(path)
    assert (s.term, s.vote, s.commit_index, s.log_end) == (2, sid, 3, 5)
    assert s.eid_at(4) == e4 and s.eid_at(2) == s.header.prev_eid
    db = load_database(s, upto=3)
    assert [r["n"].keys[0] for r in db.tables["A"].rows.values()] == [1]
    db = load_database(s)
    assert [r["n"].keys[0] for r in db.tables["A"].rows.values()] == [2]
    assert standalone_records(s) == [SCHEMA, {}, txn(1)[1], txn(2)[1]]


def test_compaction_rewrites_header_from_the_applied_index(tmp_path):
    path = new_cluster(tmp_path)
    f, s = ClusterFile.open(path)
    sid = s.header.sid
    other = str(uuid4())
    e3 = uuid4()
    with f:
        f.append([Term(2), Vote(2, sid), Entry(2, 2),
                  Entry(2, 3, txn(1), e3), Entry(2, 4, servers={str(sid): LOCAL,
                                                                 other: "tcp:127.0.0.1:2"}),
                  Entry(2, 5, election_timer=4000), Entry(2, 6, txn(2), uuid4()),
                  CommitIndex(5)])
        db = load_database(f.state, upto=5)
        f.compact(5, snapshot_data(db, date_ms=1))
        assert not os.path.exists(path + ".tmp")
        f.append([Entry(2, 7, txn(3), uuid4())])
    raw = log_file.read(path, CLUSTER_MAGIC).records
    h = raw[0]
    assert (h["prev_index"], h["prev_term"], h["prev_eid"]) == (5, 2, str(e3))
    assert h["prev_servers"] == {str(sid): LOCAL, other: "tcp:127.0.0.1:2"}
    assert h["prev_election_timer"] == 4000
    # the commit index (5) is not past the new log start (6), so raft.c writes none
    assert [set(r) for r in raw[1:]] == [{"term", "index", "data", "eid"}, {"term", "vote"},
                                         {"term", "index", "data", "eid"}]
    s = read_cluster(path)
    assert (s.log_start, s.log_end, s.commit_index, s.vote) == (6, 8, 5, sid)
    assert [r["n"].keys[0] for r in load_database(s).tables["A"].rows.values()] == [3]


def test_install_snapshot_makes_a_joiner_a_member(tmp_path):
    path = str(tmp_path / "j.db")
    h = cluster_file.join_cluster(path, "T", "tcp:127.0.0.1:2", ["tcp:127.0.0.1:1"])
    f, s = ClusterFile.open(path)
    leader = str(uuid4())
    with f:
        f.install_snapshot(cid=uuid4(), prev_index=9, prev_term=3, prev_eid=uuid4(),
                           prev_servers={leader: "tcp:127.0.0.1:1",
                                         str(h.sid): "tcp:127.0.0.1:2"},
                           prev_election_timer=1000, data=[SCHEMA, {}])
        f.append([Entry(3, 10, servers={leader: "tcp:127.0.0.1:1",
                                        str(h.sid): "tcp:127.0.0.1:2"}), CommitIndex(10)])
    s = read_cluster(path)
    assert not s.header.joining and s.log_start == 10 and s.commit_index == 10


def test_a_left_note_makes_the_file_unopenable(tmp_path):
    path = new_cluster(tmp_path)
    f, _ = ClusterFile.open(path)
    with f:
        # append() checks records by the replay rules and so refuses this one
        with pytest.raises(ClusterFormatError, match="has left"):
            f.append([Note("left")])
    with open(path, "ab") as raw:
        raw.write(log_file.encode_record({"note": "left"}, CLUSTER_MAGIC))
    with pytest.raises(ClusterFormatError, match="has left the cluster"):
        ClusterFile.open(path)


def test_a_server_outside_its_configuration_is_refused(tmp_path):
    path = new_cluster(tmp_path)
    f, _ = ClusterFile.open(path)
    with f:
        f.append([Entry(1, 2, servers={str(uuid4()): "tcp:127.0.0.1:9"})])
    with pytest.raises(ClusterFormatError, match="does not belong to cluster"):
        ClusterFile.open(path)
    assert read_cluster(path).log_end == 3  # the tools still read it


# ---------------------------------------------------------------------------
# Damage and locking
# ---------------------------------------------------------------------------

def three_record_file(tmp_path) -> tuple[str, list[int]]:
    path = new_cluster(tmp_path)
    f, _ = ClusterFile.open(path)
    with f:
        f.append([Entry(1, 2, txn(1), uuid4())])
        f.append([Entry(1, 3, txn(2), uuid4())])
    offsets = log_file.read(path, CLUSTER_MAGIC).offsets
    return path, offsets


def test_a_torn_last_record_is_logged_and_truncated(tmp_path, caplog):
    path, offsets = three_record_file(tmp_path)
    size = os.path.getsize(path)
    os.truncate(path, size - 10)
    caplog.set_level(logging.WARNING)
    f, s = ClusterFile.open(path)
    with f:
        assert s.log_end == 3
    assert "error reading" in caplog.text and "truncating" in caplog.text
    assert os.path.getsize(path) == offsets[2]


def test_a_flipped_byte_in_the_middle_refuses_to_open(tmp_path):
    path, offsets = three_record_file(tmp_path)
    data = bytearray(open(path, "rb").read())
    data[offsets[1] + 80] ^= 0x01
    open(path, "wb").write(bytes(data))
    with pytest.raises(CorruptLogError, match="damage in the middle") as e:
        ClusterFile.open(path)
    assert "SHA-1" in str(e.value) and f"offset {offsets[2]}" in str(e.value)
    with pytest.raises(CorruptLogError):
        read_cluster(path)


def test_an_unknown_key_refuses_to_open(tmp_path):
    path = new_cluster(tmp_path)
    with open(path, "ab") as f:
        f.write(log_file.encode_record({"term": 1, "index": 2, "color": "red"},
                                       CLUSTER_MAGIC))
    with pytest.raises(ClusterFormatError,
                       match="error reading record 1 from T log: .*'color' is present"):
        ClusterFile.open(path)


def test_lock_excludes_a_second_writer(tmp_path):
    path = new_cluster(tmp_path)
    f, _ = ClusterFile.open(path)
    with f:
        with pytest.raises(LockedError):
            ClusterFile.open(path)
        assert os.path.exists(os.path.join(tmp_path, ".c.db.~lock~"))
    ClusterFile.open(path)[0].close()


def test_a_standalone_file_is_not_a_cluster(tmp_path):
    path = str(tmp_path / "s.db")
    log_file.create(path, SCHEMA)
    with pytest.raises(log_file.StorageError, match="not a clustered database"):
        read_cluster(path)
    with pytest.raises(log_file.StorageError, match="is a clustered database"):
        log_file.LogFile.open(new_cluster(tmp_path))


def test_state_helpers():
    h = header(prev_index=4, prev_term=2)
    s = ClusterLog(h)
    assert (s.log_start, s.log_end, s.term, s.commit_index) == (5, 5, 0, 4)
    assert s.term_at(4) == 2 and s.eid_at(4) == h.prev_eid
    with pytest.raises(IndexError):
        s.entry(5)


def test_a_conversion_entry_starts_the_contents_over(tmp_path):
    schema2 = {**SCHEMA, "version": "2.0.0"}
    conversion = [schema2, {"A": {ROW: {"n": 7}}, "_date": 5}]
    s = replay(header(), [Entry(1, 2, txn(1), uuid4()), Entry(1, 3, conversion, uuid4()),
                          Entry(1, 4, txn(8), uuid4())])
    assert standalone_records(s) == [schema2, conversion[1], txn(8)[1]]
    db = load_database(s, upto=3)
    assert db.schema.version == "2.0.0"
    assert [r["n"].keys[0] for r in db.tables["A"].rows.values()] == [7]
    with pytest.raises(log_file.StorageError, match="without the converted data"):
        load_database(replay(header(), [Entry(1, 2, [schema2, None], uuid4())]))
