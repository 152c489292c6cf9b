"""Whole files, standalone and clustered, as bytes: ``parse_log`` never raises (damage
is its verdict), splits a file made of its own good records back into the same
records, and what it returns replays as a server or ``ovsdb-tool`` would: standalone
records into the test database (OvsdbError at worst), clustered records into Raft's
durable state (ClusterFormatError at worst)."""

from __future__ import annotations

from reference.data.errors import OvsdbError
from reference.raft.durable import replay_json
from reference.storage.cluster_records import ClusterFormatError
from reference.storage.log_file import CLUSTER_MAGIC, MAGIC, encode_record, parse_log
from reference.storage.records import apply_file_record
from tests.fuzz.dbstate import SCHEMA_JSON, fresh_database

STRUCTURED = False


def one_input(data: bytes) -> None:
    for magic in (MAGIC, CLUSTER_MAGIC):
        parsed = parse_log(data, "fuzz", magic)
        good = parsed.records
        again = parse_log(b"".join(encode_record(r, magic) for r in good), "fuzz", magic)
        if again.records != good or again.bad is not None:
            raise AssertionError("the records parse_log found do not parse back alike")
        if magic == CLUSTER_MAGIC:
            try:
                replay_json(good)
            except ClusterFormatError:
                pass
        elif good and good[0] == SCHEMA_JSON:
            db = fresh_database()
            for record in good[1:]:
                try:
                    apply_file_record(db, record)
                except OvsdbError:
                    break
