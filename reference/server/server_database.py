"""The ``_Server`` database: one ``Database`` row per hosted database, itself included.

Clients may read and monitor it but not write it (``not allowed``).  It is hosted like any
other database, with storage that keeps nothing, and changes the same way: rows built
by a transaction, proposed, committed, applied.  ``open_databases`` opens the database
files a server serves (standalone and clustered) and adds ``_Server`` describing them;
a clustered database's row follows its Raft status (``status_update``).
"""

from __future__ import annotations

from typing import Any

import orjson

from reference.data.schema import parse_schema
from reference.server.cluster_member import ClusterMember
from reference.server.hosted_database import HistoryLimits, HostedDatabase, open_file
from reference.storage.cluster_tool import is_clustered
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


def status_columns(status: dict[str, Any]) -> dict[str, Any]:
    """A clustered database's status (``ClusterMember.status``) as the Database row's
    columns, filled as ovsdb-server 3.1 fills them."""
    return {"connected": status["connected"], "leader": status["leader"],
            "index": status["index"],
            "cid": ["uuid", status["cid"]] if status["cid"] else ["set", []],
            "sid": ["uuid", status["sid"]]}


def server_database(hosted: list[HostedDatabase],
                    statuses: dict[str, dict[str, Any]] | None = None) -> HostedDatabase:
    """Build _Server with one Database row per hosted database, itself included;
    ``statuses``: the clustered ones' status, by name."""
    statuses = statuses or {}
    server = HostedDatabase(parse_schema(SERVER_SCHEMA_JSON), read_only=True,
                            limits=HistoryLimits(0, 0))
    ops = []
    for name, model, schema_json in [*((h.name, h.model, h.schema_json) for h in hosted),
                                     (server.name, "standalone", SERVER_SCHEMA_JSON)]:
        row = {"name": name, "model": model, "connected": True, "leader": True,
               "schema": schema_text(schema_json)}
        if name in statuses:
            row.update(status_columns(statuses[name]))
            if not statuses[name]["schema"]:
                row["schema"] = ["set", []]   # joining: no schema yet
        ops.append({"op": "insert", "table": "Database", "row": row})
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


def status_update(server: HostedDatabase, name: str, status: dict[str, Any],
                  now_ms: float):
    """The change to ``server``'s Database row for clustered database ``name`` to show
    ``status`` (a ChangeSet, or None when there is nothing to change)."""
    ops = [{"op": "update", "table": "Database", "where": [["name", "==", name]],
            "row": status_columns(status)}]
    return execute(server.db, ops, now_ms=now_ms, started_ms=now_ms).changes


def open_databases(paths: list[str], limits: HistoryLimits
                   ) -> tuple[list[HostedDatabase], list[ClusterMember]]:
    """The files' databases, then _Server, and the clustered ones' members; ValueError
    for duplicate or reserved names."""
    hosted: list[HostedDatabase] = []
    members: list[ClusterMember] = []
    try:
        for p in paths:
            if is_clustered(p):
                members.append(ClusterMember(p, limits))
                hosted.append(members[-1].hosted)
            else:
                hosted.append(open_file(p, limits))
        names = [h.name for h in hosted]
        if len(set(names)) != len(names) or NAME in names:
            raise ValueError(f"duplicate or reserved database names: {names}")
    except BaseException:
        for h in hosted:
            h.close()
        for m in members:
            m.file.close()
        raise
    statuses = {m.hosted.name: m.status() for m in members}
    return hosted + [server_database(hosted, statuses)], members
