"""A transaction's operations executed against the test database (a real schema, rows
in every table): ``execute`` reports every problem in its results and raises nothing;
a failed or aborted transaction changes nothing; a committed one leaves a database that
passes its own checks (tests/fuzz/dbstate.py: check_commit)."""

from __future__ import annotations

import orjson

from reference.txn.engine import execute
from tests.fuzz.dbstate import check_commit, check_unchanged, contents, fresh_database
from tests.fuzz.mutate import load

STRUCTURED = True


def one_input(data: bytes) -> None:
    ops = load(data, list)
    if ops is None:
        return
    db = fresh_database()
    before = contents(db)
    outcome = execute(db, ops, owns_lock=lambda name: name == "L", now_ms=0, started_ms=0)
    check_unchanged(before, db, "executing a transaction (before its commit)")
    orjson.dumps(outcome.result)  # the reply must be JSON
    failed = outcome.result is not None and any(
        isinstance(r, dict) and "error" in r for r in outcome.result)
    if failed and outcome.changes is not None:
        raise AssertionError(f"a failed transaction has changes: {outcome.result}")
    if outcome.changes is None:
        return
    db.apply(outcome.changes)
    check_commit(fresh_database(), db, outcome.changes)
