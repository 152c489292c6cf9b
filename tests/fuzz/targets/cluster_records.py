"""A clustered file's records as JSON (header first): each parses or raises
ClusterFormatError, what parses writes back to the same record, and the whole log
replays into Raft's durable state or raises ClusterFormatError."""

from __future__ import annotations

from reference.raft.durable import replay_json
from reference.storage.cluster_records import (
    ClusterFormatError,
    header_to_json,
    parse_header,
    parse_record,
    record_to_json,
)
from tests.fuzz.mutate import load

STRUCTURED = True


def _round_trip(parse, write, obj) -> None:
    try:
        parsed = parse(obj)
    except ClusterFormatError:
        return
    back = parse(write(parsed))
    if back != parsed:
        raise AssertionError(f"{obj!r} parses to {parsed!r}, written and read back {back!r}")


def one_input(data: bytes) -> None:
    objects = load(data, list)
    if objects is None:
        return
    for i, obj in enumerate(objects):
        if i == 0:
            _round_trip(parse_header, header_to_json, obj)
        else:
            _round_trip(parse_record, record_to_json, obj)
    try:
        replay_json(objects)
    except ClusterFormatError:
        pass
