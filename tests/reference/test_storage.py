"""The standalone file format on its own: framing, damage on open, durable appends,
compaction and its policy, locking, and the ``crucible db`` tool.  Interop with the real
ovsdb-tool/ovsdb-server is in test_storage_interop.py."""

from __future__ import annotations

import hashlib
import logging
import os
import random

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference.storage import dbtool, log_file

SCHEMA = {"name": "T", "version": "1.0.0",
          "tables": {"A": {"columns": {"name": {"type": "string"}, "n": {"type": "integer"}}}}}

json_scalars = st.one_of(st.integers(-2**53, 2**53), st.text(max_size=8), st.booleans(),
                         st.none())
json_values = st.recursive(json_scalars, lambda c: st.one_of(
    st.lists(c, max_size=3), st.dictionaries(st.text(max_size=5), c, max_size=3)),
    max_leaves=8)
records_st = st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=4),
                      min_size=1, max_size=6)
hyp = settings(max_examples=60, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture])


def file_bytes(records: list[dict]) -> bytes:
    return b"".join(log_file.encode_record(r) for r in [SCHEMA, *records])


def write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


# -- framing ---------------------------------------------------------------------------

def test_record_layout_matches_ovsdb():
    rec = log_file.encode_record({"_date": 1, "A": {}})
    header, body = rec.split(b"\n", 1)
    magic1, magic2, length, sha = header.split(b" ")
    assert (magic1, magic2) == (b"OVSDB", b"JSON")
    # The length and the hash cover the JSON text *and* its newline, as OVS writes it.
    assert int(length) == len(body) and body.endswith(b"\n")
    assert sha.decode() == hashlib.sha1(body).hexdigest()
    assert orjson.loads(body) == {"_date": 1, "A": {}}


def test_only_objects_are_records():
    with pytest.raises(TypeError):
        log_file.encode_record([1, 2])


@hyp
@given(records_st)
def test_parse_round_trips(records):
    parsed = log_file.parse_log(file_bytes(records))
    assert parsed.bad is None
    assert parsed.records == [SCHEMA, *records]


@hyp
@given(records_st, st.data())
def test_cut_anywhere_keeps_exactly_the_whole_records(tmp_path, caplog, records, data):
    full = file_bytes(records)
    ends = [len(log_file.encode_record(SCHEMA))]
    for r in records:
        ends.append(ends[-1] + len(log_file.encode_record(r)))
    cut = data.draw(st.integers(ends[0], len(full)))
    whole = sum(1 for e in ends[1:] if e <= cut)
    path = write(tmp_path / f"cut{cut}.db", full[:cut])
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="reference.storage"):
        log, schema, got = log_file.LogFile.open(path)
    with log:
        assert schema == SCHEMA and got == records[:whole]
        torn = cut not in ends
        assert any("truncating" in m for m in caplog.messages) == torn
        assert os.path.getsize(path) == ends[whole]
        log.append({"after": True})
    _, _, again = log_file.LogFile.open(path, lock=False)
    assert again == [*records[:whole], {"after": True}]


@hyp
@given(records_st, st.data())
def test_damaged_record_is_truncated_if_last_and_refused_if_not(tmp_path, records, data):
    blobs = [log_file.encode_record(r) for r in [SCHEMA, *records]]
    i = data.draw(st.integers(1, len(records)), label="damaged record")
    j = data.draw(st.integers(0, len(blobs[i]) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    damaged = bytearray(blobs[i])
    damaged[j] ^= 1 << bit
    content = b"".join(blobs[:i]) + bytes(damaged) + b"".join(blobs[i + 1:])
    path = write(tmp_path / f"d{i}-{j}-{bit}.db", content)
    if i == len(records):
        log, _, got = log_file.LogFile.open(path)
        log.close()
        assert got == records[:i - 1]
    else:
        with pytest.raises(log_file.CorruptLogError, match="crucible db repair"):
            log_file.LogFile.open(path)
        assert os.path.getsize(path) == len(content)  # refused means untouched
        log, _, got = log_file.LogFile.open(path, repair=True)
        log.close()
        assert got == records[:i - 1]


def test_messages_read_like_ovsdb_server(tmp_path):
    good = file_bytes([{"a": 1}, {"b": 2}])
    torn = log_file.parse_log(good[:-3], "x.db")
    assert torn.bad and torn.torn_tail
    assert torn.bad.message.startswith("I/O error: x.db: error reading ")
    assert torn.bad.message.endswith("(End of file)")
    flipped = bytearray(good)
    flipped[-3] ^= 1
    bad = log_file.parse_log(bytes(flipped), "x.db").bad
    assert bad and " have SHA-1 hash " in bad.message and "but should have hash" in bad.message
    junk = log_file.parse_log(good + b"xyz\n", "x.db").bad
    assert junk and junk.message == (f'syntax error: x.db: parse error at offset {len(good)} '
                                     f'in header line "xyz"')
    not_obj = log_file.parse_log(log_file.frame(b"[1]"), "x.db").bad
    assert not_obj and not_obj.message.endswith("are not a JSON object")
    not_json = log_file.parse_log(log_file.frame(b"{nope"), "x.db").bad
    assert not_json and "are not valid JSON" in not_json.message


def test_unusable_files_are_refused_with_a_reason(tmp_path):
    with pytest.raises(log_file.StorageError, match="empty"):
        log_file.LogFile.open(write(tmp_path / "e.db", b""))
    cluster = b"OVSDB CLUSTER 3 " + hashlib.sha1(b"{}\n").hexdigest().encode() + b"\n{}\n"
    with pytest.raises(log_file.StorageError, match="clustered"):
        log_file.LogFile.open(write(tmp_path / "c.db", cluster))
    with pytest.raises(log_file.CorruptLogError, match="schema record"):
        log_file.LogFile.open(write(tmp_path / "s.db", file_bytes([])[:-2]))
    with pytest.raises(log_file.StorageError, match="open failed"):
        log_file.LogFile.open(str(tmp_path / "missing.db"))


# -- appends and durability ------------------------------------------------------------

def test_durable_appends_fsync_and_plain_ones_do_not(tmp_path, monkeypatch):
    path = str(tmp_path / "a.db")
    log_file.create(path, SCHEMA)
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(log_file.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    log, _, _ = log_file.LogFile.open(path)
    with log:
        log.append({"n": 1})
        assert synced == []
        log.append({"n": 2}, durable=True)
        assert len(synced) == 1
        log.append(b'{"n":3}')  # pre-serialised by the caller
    assert log_file.read(path).records[1:] == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_failed_write_leaves_no_half_record(tmp_path, monkeypatch):
    path = str(tmp_path / "w.db")
    log_file.create(path, SCHEMA)
    log, _, _ = log_file.LogFile.open(path)
    log.append({"n": 1})
    size = os.path.getsize(path)
    real_write = os.write

    def half_then_fail(fd, data):
        if len(data) > 10:
            real_write(fd, bytes(data[:10]))
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(log_file.os, "write", half_then_fail)
    with pytest.raises(log_file.StorageError, match="No space left"):
        log.append({"n": 2, "pad": "x" * 50})
    monkeypatch.undo()
    assert os.path.getsize(path) == size
    log.append({"n": 3})
    log.close()
    assert log_file.read(path).records[1:] == [{"n": 1}, {"n": 3}]


def test_second_writer_is_locked_out(tmp_path):
    path = str(tmp_path / "l.db")
    log_file.create(path, SCHEMA)
    log, _, _ = log_file.LogFile.open(path)
    with pytest.raises(log_file.LockedError):
        log_file.LogFile.open(path)
    log.close()
    log_file.LogFile.open(path)[0].close()


# -- compaction ------------------------------------------------------------------------

def test_compact_replaces_the_log_atomically(tmp_path):
    path = str(tmp_path / "c.db")
    log_file.create(path, SCHEMA)
    log, _, _ = log_file.LogFile.open(path)
    for i in range(20):
        log.append({"A": {f"row{i}": {"n": i}}})
    (tmp_path / "c.db.tmp").write_bytes(b"left over from an earlier crash")
    snapshot = {"A": {f"row{i}": {"n": i} for i in range(20)}}
    log.compact(SCHEMA, snapshot)
    assert not (tmp_path / "c.db.tmp").exists()
    assert log.size == log.base == os.path.getsize(path)
    log.append({"A": {"row0": None}}, durable=True)
    log.close()
    assert log_file.read(path).records == [SCHEMA, snapshot, {"A": {"row0": None}}]


def test_compaction_that_fails_before_the_rename_changes_nothing(tmp_path, monkeypatch):
    path = str(tmp_path / "f.db")
    log_file.create(path, SCHEMA)
    log, _, _ = log_file.LogFile.open(path)
    log.append({"n": 1})
    before = open(path, "rb").read()

    def crash(*_):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(log_file.os, "rename", crash)
    with pytest.raises(log_file.StorageError, match="old file is unchanged"):
        log.compact(SCHEMA, {"snap": True})
    monkeypatch.undo()
    assert open(path, "rb").read() == before
    assert not os.path.exists(path + ".tmp")
    log.append({"n": 2})
    log.close()
    assert log_file.read(path).records[1:] == [{"n": 1}, {"n": 2}]


def test_compact_to_an_empty_database_keeps_only_the_schema(tmp_path):
    path = str(tmp_path / "z.db")
    log_file.create(path, SCHEMA)
    log, _, _ = log_file.LogFile.open(path)
    log.append({"n": 1})
    log.compact(SCHEMA, None)
    log.close()
    assert log_file.read(path).records == [SCHEMA]


def test_default_policy_is_ovsdb_servers():
    p = log_file.CompactionPolicy()
    assert (p.min_delay, p.delay_range, p.max_delay) == (600, 600, 86400)
    assert (p.min_records, p.min_size, p.growth_factor) == (100, 10 * 1024 * 1024, 2)
    assert (p.retry_delay, p.retry_range) == (60, 60)


def test_automatic_compaction_policy(tmp_path):
    now = [1000.0]
    policy = log_file.CompactionPolicy(min_delay=10, delay_range=10, max_delay=1000,
                                      min_records=5, min_size=2000, rng=random.Random(7))
    path = str(tmp_path / "p.db")
    log_file.create(path, SCHEMA)
    log, _, _ = log_file.LogFile.open(path, policy=policy, clock=lambda: now[0])
    with log:
        row = {"pad": "x" * 100}
        for _ in range(30):
            log.append(row)
        assert log.size > 2000 and log.size // 2 > log.base
        assert not log.should_compact()          # too early: before 10-20 s
        now[0] += 20
        assert log.should_compact()              # grown a lot, enough records
        log.compact(SCHEMA, {"snap": 1})
        assert not log.should_compact()          # rescheduled
        now[0] += 20
        assert not log.should_compact()          # has not grown since
        for _ in range(3):
            log.append({"n": 1})
        assert not log.should_compact()          # small file: wait for the daily one
        now[0] += 1000
        assert log.should_compact()              # a day (here 1000 s) has passed


def test_few_records_never_trigger_early_compaction(tmp_path):
    now = [0.0]
    policy = log_file.CompactionPolicy(min_delay=0, delay_range=0, min_records=100,
                                      min_size=100)
    path = str(tmp_path / "q.db")
    log_file.create(path, SCHEMA)
    log, _, _ = log_file.LogFile.open(path, policy=policy, clock=lambda: now[0])
    with log:
        log.append({"pad": "y" * 5000})
        assert not log.should_compact()  # big, but one record is not worth it


# -- crucible db -----------------------------------------------------------------------

def test_db_create_and_its_errors(tmp_path, capsys):
    schema = tmp_path / "s.ovsschema"
    schema.write_bytes(orjson.dumps(SCHEMA))
    db = str(tmp_path / "n.db")
    assert dbtool.main(["create", db, str(schema)]) == 0
    assert log_file.read(db).records == [SCHEMA]
    assert oct(os.stat(db).st_mode & 0o777) == "0o640"
    assert dbtool.main(["create", db, str(schema)]) == 1
    assert "File exists" in capsys.readouterr().err
    bad = tmp_path / "bad.ovsschema"
    bad.write_text('{"name": "T"}')
    assert dbtool.main(["create", str(tmp_path / "b.db"), str(bad)]) == 1
    assert "Required 'tables' member is missing" in capsys.readouterr().err
    bad.write_text('{"name": ')
    assert dbtool.main(["create", str(tmp_path / "b.db"), str(bad)]) == 1
    assert "could not be read as JSON" in capsys.readouterr().err
    assert dbtool.main(["create", str(tmp_path / "b.db"), str(tmp_path / "nope")]) == 1
    assert "No such file" in capsys.readouterr().err
    assert not (tmp_path / "b.db").exists()
    assert dbtool.main(["create", db]) == 2
    assert dbtool.main(["frobnicate"]) == 2


@pytest.mark.parametrize("schema, problem", [
    ([], "JSON object"),
    ({"name": "1x", "tables": {}}, "not a valid identifier"),
    ({"name": "T", "version": "1.0", "tables": {}}, "x.y.z"),
    ({"name": "T", "tables": {"A": {}}}, "'columns'"),
    ({"name": "T", "tables": {"A": {"columns": {"_uuid": {"type": "uuid"}}}}}, "column name"),
    ({"name": "T", "tables": {"A": {"columns": {"c": {}}}}}, "'type'"),
])
def test_schema_sanity_check_catches_broken_schemas(schema, problem):
    assert problem in (dbtool.schema_problem(schema) or "")


def test_db_show_log_repair_and_name(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    log_file.create(db, SCHEMA)
    log, _, _ = log_file.LogFile.open(db)
    log.append({"_date": 1795481359561, "_comment": "hello", "_is_diff": True,
                "A": {"3bac909b-f875-4ffe-a286-c910ab7c3628": {"name": "x"}}})
    log.append({"A": {"3bac909b-f875-4ffe-a286-c910ab7c3628": None}})
    log.close()
    capsys.readouterr()
    assert dbtool.main(["show-log", "-m", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == 'record 0: "T" schema, version="1.0.0"'
    assert out[1].startswith("record 1: 20") and out[1].endswith('"hello"')
    assert "  table A row 3bac909b" in out and '    name="x"' in out
    assert "  table A delete row 3bac909b" in out
    assert dbtool.main(["db-name", db]) == 0 and capsys.readouterr().out == "T\n"
    assert dbtool.main(["db-version", db]) == 0 and capsys.readouterr().out == "1.0.0\n"
    # Damage record 1 of 2: show-log reports it, open refuses, repair keeps record 0.
    data = bytearray(open(db, "rb").read())
    data[data.index(b"hello")] ^= 1
    open(db, "wb").write(bytes(data))
    assert dbtool.main(["show-log", db]) == 1
    assert "SHA-1" in capsys.readouterr().err
    with pytest.raises(log_file.CorruptLogError):
        log_file.LogFile.open(db)
    assert dbtool.main(["repair", db]) == 0
    assert "0 transaction records kept" in capsys.readouterr().out
    assert log_file.read(db).records == [SCHEMA]
