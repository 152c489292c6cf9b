"""The ``_Server`` database: one ``Database`` row per hosted database, itself included.

Clients may read and monitor it but not write it (``not allowed``).  It is hosted like any
other database, with storage that keeps nothing, and changes the same way: rows built
by a transaction, proposed, committed, applied.  ``open_databases`` opens the database
files a server serves and adds ``_Server`` describing them.
"""

from __future__ import annotations

from typing import Any

import orjson

from reference.data.schema import parse_schema
from reference.server.hosted_database import HistoryLimits, HostedDatabase, open_file
from reference.storage.proposal import Proposal
from reference.txn.engine import execute

NAME = "_Server"

# The _Server database's schema, as ovsdb-server 3.1 reports it.
SERVER_SCHEMA_JSON: dict[str, Any] = {
    "cksum": "3009684573 744", "name": NAME, "version": "1.2.0",
    "tables": {"Database": {"columns": {
        "cid": {"type": {"key": "uuid", "min": 0}},
        "connected": {"type": "boolean"},
        "index": {"type": {"key": "integer", "min": 0}},
        "leader": {"type": "boolean"},
        "model": {"type": {"key": {"enum": ["set", ["clustered", "relay", "standalone"]],
                                   "type": "string"}}},
        "name": {"type": "string"},
        "schema": {"type": {"key": "string", "min": 0}},
        "sid": {"type": {"key": "uuid", "min": 0}},
    }}},
}


def schema_text(schema_json: Any) -> str:
    return orjson.dumps(schema_json, option=orjson.OPT_SORT_KEYS).decode()


def server_database(hosted: list[HostedDatabase]) -> HostedDatabase:
    """Build _Server with one Database row per hosted database, itself included."""
    server = HostedDatabase(parse_schema(SERVER_SCHEMA_JSON), read_only=True,
                            limits=HistoryLimits(0, 0))
    rows = [(h.name, h.model, h.schema_json) for h in hosted]
    rows.append((server.name, "standalone", SERVER_SCHEMA_JSON))
    ops = [{"op": "insert", "table": "Database", "row": {
        "name": name, "model": model, "connected": True, "leader": True,
        "schema": schema_text(schema_json)}}
        for name, model, schema_json in rows]
    # Written by the server itself, so not through the read-only check clients get.
    outcome = execute(server.db, ops, owns_lock=lambda name: False, now_ms=0,
                      started_ms=0, read_only=False)
    if outcome.changes is None:
        raise RuntimeError(f"cannot build _Server database: {outcome.result}")
    # Nobody is connected yet: commit at once, the way the core would have it done.
    server.apply(server.storage.propose(Proposal(server.name, outcome.changes)))
    return server


def schema_update(server: HostedDatabase, converted: HostedDatabase, now_ms: float):
    """The change to ``server``'s Database row for ``converted`` after a conversion
    (a ChangeSet, or None when there is nothing to change)."""
    ops = [{"op": "update", "table": "Database", "where": [["name", "==", converted.name]],
            "row": {"schema": schema_text(converted.schema_json)}}]
    return execute(server.db, ops, now_ms=now_ms, started_ms=now_ms).changes


def open_databases(paths: list[str], limits: HistoryLimits) -> list[HostedDatabase]:
    """The files' databases, then _Server; ValueError for duplicate or reserved names."""
    hosted = [open_file(p, limits) for p in paths]
    names = [h.name for h in hosted]
    if len(set(names)) != len(names) or NAME in names:
        for h in hosted:
            h.close()
        raise ValueError(f"duplicate or reserved database names: {names}")
    return hosted + [server_database(hosted)]
