"""Transaction records of a standalone file replayed into the test database, as a
server does when it opens the file: a record applies or raises OvsdbError, and one that
does not apply changes nothing; one that does leaves a database that passes its own
checks (tests/fuzz/dbstate.py: check_commit)."""

from __future__ import annotations

from reference.data.errors import OvsdbError
from reference.storage.records import apply_file_record
from tests.fuzz.dbstate import check_commit, check_unchanged, contents, fresh_database, reloaded
from tests.fuzz.mutate import load

STRUCTURED = True


def one_input(data: bytes) -> None:
    records = load(data, list)
    if records is None:
        return
    db = fresh_database()
    for record in records:
        if not isinstance(record, dict):
            continue  # the file layer refuses records that are not objects
        before, old = contents(db), reloaded(db)
        try:
            changes = apply_file_record(db, record)
        except OvsdbError:
            check_unchanged(before, db, "a record that did not apply")
            continue
        check_commit(old, db, changes)
