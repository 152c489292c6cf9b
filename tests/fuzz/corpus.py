"""Seed inputs, taken from real traffic: the hand-written JSON-RPC sessions the
differential tests play against ovsdb-server (tests/reference/sessions), the file
records their transactions commit, and the Raft messages and log records of a scripted
cluster (tests/reference/raft/scripted.py) electing a leader, committing commands and
adding a server."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from reference.data.condition import parse_where
from reference.data.errors import OvsdbError
from reference.raft import messages as raft_messages
from reference.storage.log_file import CLUSTER_MAGIC, encode_record
from reference.storage.records import changes_to_file_record
from reference.txn.engine import execute
from tests.fuzz.dbstate import DB, SCHEMA_JSON, fresh_database
from tests.fuzz.mutate import dump
from tests.reference.raft.scripted import Scripted
from tests.reference.sessions import load_sessions

CONDITION_OPS = ("select", "update", "mutate", "delete", "wait")


@functools.cache
def connections() -> list[list[dict]]:
    """What each connection of each session sends, in order."""
    out = []
    for steps in load_sessions().values():
        by_conn: dict[int, list[dict]] = {}
        for step in steps:
            if "send" in step:
                by_conn.setdefault(step["c"], []).append(step["send"])
        out.extend(by_conn.values())
    return out


@functools.cache
def transactions() -> list[list[Any]]:
    """The operations of every transact on the test database."""
    return [m["params"][1:] for conn in connections() for m in conn
            if m.get("method") == "transact" and m.get("params", [])[:1] == [DB]]


@functools.cache
def conditions() -> list[dict[str, Any]]:
    """Every where clause of those transactions and monitor condition of the sessions,
    with its table."""
    out = [{"table": op["table"], "where": op["where"]}
           for ops in transactions() for op in ops
           if isinstance(op, dict) and op.get("op") in CONDITION_OPS and "where" in op]
    for conn in connections():
        for m in conn:
            params = m.get("params")
            if m.get("method") in ("monitor_cond", "monitor_cond_since") and \
                    isinstance(params, list) and len(params) > 2 and isinstance(params[2], dict):
                for table, reqs in params[2].items():
                    for r in reqs if isinstance(reqs, list) else [reqs]:
                        if isinstance(r, dict) and "where" in r:
                            out.append({"table": table, "where": r["where"], "monitor": True})
    return out


@functools.cache
def file_records() -> list[list[dict]]:
    """The records the sessions' transactions write, one list per session's worth."""
    db = fresh_database()
    records = []
    for ops in transactions():
        outcome = execute(db, ops, now_ms=0, started_ms=0)
        if outcome.changes is not None:
            db.apply(outcome.changes)
            record = changes_to_file_record(outcome.changes, db.schema, date_ms=0)
            if record is not None:
                records.append(record)
    return [records[i:i + 4] for i in range(0, len(records), 4)]


@functools.cache
def raft_traffic() -> tuple[list[dict], list[list[dict]]]:
    """(messages as JSON-RPC notifications, each member's log records) of a scripted
    cluster that elects a leader, commits two commands and adds a fourth server."""
    c = Scripted("abc")
    c.elect("a")
    c.do("a", "propose", [None, {"kv": {"x": 1}}], None, "e1d00000-0000-4000-8000-00000000aaaa")
    c.settle()
    c.heartbeat("a")
    c.add("d", "a")
    c.flush("d")
    c.settle()
    c.do("a", "propose", [None, {"kv": {"y": 2}}], None, "e1d00000-0000-4000-8000-00000000bbbb")
    c.settle()
    c.heartbeat("a")
    notes = []
    for msg in c.delivered:
        method, params = raft_messages.message_to_json(msg)
        notes.append({"method": method, "params": params, "id": None})
    return notes, [records for records in c.records.values()]


def _checked_where(cond: dict) -> bool:
    """Conditions worth seeding: ones that parse (broken ones come from mutation)."""
    try:
        parse_where(fresh_database().schema.tables[cond["table"]], cond["where"])
    except (OvsdbError, KeyError):
        return False
    return True


def seeds(target: str) -> list[bytes]:
    """The seed inputs of one target, as bytes."""
    if target == "framer":
        return [b"".join(dump(m) for m in conn) for conn in connections()]
    if target == "core":
        return [dump(conn) for conn in connections()]
    if target == "txn":
        return [dump(ops) for ops in transactions()]
    if target == "condition":
        return [dump(c) for c in conditions() if _checked_where(c)] + \
            [dump(c) for c in conditions() if c.get("monitor")]
    if target == "records":
        return [dump(rs) for rs in file_records()]
    if target == "log_file":
        schema = encode_record(SCHEMA_JSON)
        out = [schema + b"".join(encode_record(r) for r in rs) for rs in file_records()]
        out += [b"".join(encode_record(r, CLUSTER_MAGIC) for r in rs)
                for rs in raft_traffic()[1]]
        return out
    if target == "cluster_records":
        return [dump(rs) for rs in raft_traffic()[1]]
    if target == "raft":
        return [dump(m) for m in raft_traffic()[0]]
    raise KeyError(target)


def write_seeds(target: str, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    found = seeds(target)
    for i, data in enumerate(found):
        (folder / f"seed-{i:04d}").write_bytes(data)
    return len(found)



