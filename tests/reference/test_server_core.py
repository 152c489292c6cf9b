"""The server core on its own, sans I/O: the commit as an effect.

The core proposes a transaction's change and does everything that follows from it (apply,
monitor updates, the reply, re-runs of blocked ``wait`` transactions) only when storage
hands the proposal back.  Here a test plays the shell, with storage that commits when
the test says so (as clustered storage will), at once, or not at all.
"""

from __future__ import annotations

import orjson
import pytest

from reference.data.schema import parse_schema
from reference.monitor import Delivery
from reference.server.core import Close, PendingTxn, Send, ServerCore
from reference.server.hosted_database import HostedDatabase
from reference.server.server_database import server_database
from reference.storage.log_file import StorageError
from reference.storage.proposal import Proposal
from reference.storage.standalone import StandaloneStorage
from reference.wire.jsonrpc import Request

SCHEMA = {"name": "T", "version": "1.0.0", "tables": {"Pair": {"columns": {
    "a": {"type": "string"}, "b": {"type": "integer"}}}}}


class Harness:
    """Plays the shell: messages in, effects collected; proposals wait in ``proposed``
    until ``commit`` (or are committed at once with ``at_once``)."""

    def __init__(self, at_once: bool = False) -> None:
        self.hosted = HostedDatabase(parse_schema(SCHEMA))
        self.core = ServerCore([self.hosted, server_database([self.hosted])])
        self.at_once = at_once
        self.proposed: list[PendingTxn] = []
        self.sent: list[tuple[int, dict]] = []  # (session, message) in order

    def session(self, monitor: bool = False) -> int:
        sid = self.core.open_session()
        if monitor:
            self.request(sid, "monitor_cond", ["T", "m", {"Pair": [{}]}])
        return sid

    def request(self, sid: int, method: str, params: list, rid: int = 0) -> None:
        self.carry_out(self.core.receive(sid, Request(method, params, rid), 0.0))

    def transact(self, sid: int, *ops: dict, rid: int = 0) -> None:
        self.request(sid, "transact", ["T", *ops], rid)

    def commit(self, storage_answer=None) -> None:
        proposal = self.proposed.pop(0)
        answered = (storage_answer or self.hosted.storage.propose)(proposal)
        self.carry_out(self.core.advance(answered, 0.0))

    def carry_out(self, outs) -> None:
        for out in outs:
            if type(out) is Send:
                self.sent.append((out.session, orjson.loads(out.data)))
            elif type(out) is Delivery:
                self.sent += [(s, orjson.loads(out.data)) for s in out.sessions]
            elif type(out) is Close:
                raise AssertionError(f"unexpected close: {out}")
            elif self.at_once or out.database != "T":
                storage = self.core.dbs[out.database].storage
                self.carry_out(self.core.advance(storage.propose(out), 0.0))
            else:
                self.proposed.append(out)

    def take(self) -> list[tuple[int, str]]:
        """What was sent since last asked: (session, "reply" | "update" rows)."""
        sent, self.sent = self.sent, []
        return [(s, "reply" if "method" not in m else
                 sorted(row.get("insert", row.get("modify", {})).get("a", "")
                        for row in m["params"][1]["Pair"].values()))
                for s, m in sent]

    def rows(self) -> list[str]:
        return sorted(row["a"].keys[0] for row in self.hosted.db.tables["Pair"].rows.values())


def insert(a: str) -> dict:
    return {"op": "insert", "table": "Pair", "row": {"a": a}}


def test_reply_and_monitor_updates_wait_for_the_commit():
    h = Harness()
    watcher = h.session(monitor=True)
    writer = h.session(monitor=True)
    h.take()
    h.transact(writer, insert("x"))
    assert len(h.proposed) == 1 and h.take() == [] and h.rows() == []
    h.commit()
    assert h.rows() == ["x"]
    assert h.take() == [(watcher, ["x"]), (writer, ["x"]), (writer, "reply")]


def test_transactions_execute_against_committed_state_while_others_are_in_flight():
    h = Harness()
    writer = h.session()
    h.transact(writer, insert("x"), rid=1)
    h.transact(writer, insert("y"), rid=2)
    assert [p.request_id for p in h.proposed] == [1, 2]
    h.commit()
    assert h.rows() == ["x"] and [m["id"] for _, m in h.sent] == [1]
    h.commit()
    assert h.rows() == ["x", "y"] and [m["id"] for _, m in h.sent] == [1, 2]


def test_storage_names_the_commit():
    h = Harness()
    writer = h.session()
    h.transact(writer, insert("x"))
    proposal = h.proposed[0]
    h.commit()
    assert proposal.changes.txn_id is not None and proposal.changes.date_ms is not None
    assert h.hosted.monitors.history.last_txn_id == proposal.changes.txn_id


class FailingLog:
    def append(self, record, durable=False):
        raise StorageError("x.db: write failed (No space left on device)")


def test_a_failed_commit_fails_the_transaction_and_applies_nothing():
    h = Harness()
    watcher = h.session(monitor=True)
    writer = h.session()
    h.take()
    failing = StandaloneStorage(h.hosted.schema, FailingLog())  # type: ignore[arg-type]
    h.transact(writer, insert("x"), {"op": "comment", "comment": "c"})
    h.commit(failing.propose)
    assert h.rows() == []
    [(sid, reply)] = h.sent
    assert sid == writer and reply["result"][2:] == [
        {"error": "I/O error", "details": "x.db: write failed (No space left on device)"}]
    assert "uuid" in reply["result"][0] and watcher not in [s for s, _ in h.sent]


WAIT_FOR_X = {"op": "wait", "table": "Pair", "where": [["a", "==", "x"]], "columns": ["a"],
              "until": "==", "rows": [{"a": "x"}]}


def test_released_waits_rerun_when_the_commit_comes_back_and_monitors_see_one_merge():
    h = Harness()
    watcher = h.session(monitor=True)
    waiter = h.session()
    writer = h.session(monitor=True)
    h.take()
    h.transact(waiter, WAIT_FOR_X, insert("y"), rid=7)
    assert h.take() == [] and h.proposed == []  # blocked
    h.transact(writer, insert("x"))
    h.commit()
    # The committer has its update and reply; the re-run is proposed, not yet committed.
    assert h.take() == [(writer, ["x"]), (writer, "reply")]
    assert [p.request_id for p in h.proposed] == [7] and h.rows() == ["x"]
    h.commit()
    assert h.rows() == ["x", "y"]
    assert h.take() == [(watcher, ["x", "y"]), (writer, ["y"]), (waiter, "reply")]
    assert h.core.windows == {}


@pytest.mark.parametrize("at_once", [False, True])
def test_released_waits_rerun_in_order_each_against_the_one_before(at_once):
    h = Harness(at_once=at_once)
    writer = h.session()
    waiters = [h.session() for _ in range(3)]
    # Each waiter needs the row the one before it inserts.
    for i, sid in enumerate(waiters):
        need = dict(WAIT_FOR_X, where=[["a", "==", f"r{i}"]], rows=[{"a": f"r{i}"}])
        h.transact(sid, need, insert(f"r{i + 1}"), rid=i)
    h.transact(writer, insert("r0"), rid=99)
    while h.proposed:
        h.commit()
    assert h.rows() == ["r0", "r1", "r2", "r3"]
    assert [(s, m["id"]) for s, m in h.sent] == [(writer, 99)] + [
        (sid, i) for i, sid in enumerate(waiters)]


def test_server_database_is_built_through_storage():
    hosted = HostedDatabase(parse_schema(SCHEMA))
    server = server_database([hosted])
    names = sorted(r["name"].keys[0] for r in server.db.tables["Database"].rows.values())
    assert names == ["T", "_Server"]
    assert isinstance(server.storage, StandaloneStorage) and not server.on_disk


def test_standalone_storage_dates_and_writes_the_commit(tmp_path):
    from reference.storage import log_file

    path = tmp_path / "t.db"
    log_file.create(str(path), SCHEMA)
    log, _, _ = log_file.LogFile.open(str(path))
    schema = parse_schema(SCHEMA)
    storage = StandaloneStorage(schema, log, clock=lambda: 1234.5678)
    hosted = HostedDatabase(schema, storage=storage)
    outcome = hosted.execute([insert("x")], owns_lock=lambda n: False, now_ms=0, started_ms=0)
    done = storage.propose(Proposal("T", outcome.changes, durable=True))
    assert done.committed and done.changes.date_ms == 1234567
    storage.close()
    records = log_file.read(str(path)).records
    assert records[-1]["_date"] == 1234567
    assert list(records[-1]["Pair"].values()) == [{"a": "x"}]


@pytest.mark.parametrize("at_once", [False, True])
def test_a_rerun_that_commits_first_reruns_those_it_released_again(at_once):
    # A waits for what B inserts; B and C wait for the writer's row.  Released together,
    # A blocks again; B's commit re-runs A at once, ahead of C (as re-running the
    # blocked transactions after each commit does).
    h = Harness(at_once=at_once)
    a, b, c, writer = (h.session() for _ in range(4))

    def waits_for(row: str) -> dict:
        return dict(WAIT_FOR_X, where=[["a", "==", row]], rows=[{"a": row}])

    h.transact(a, waits_for("from-b"), insert("from-a"), rid="a")
    h.transact(b, waits_for("w"), insert("from-b"), rid="b")
    h.transact(c, waits_for("w"), insert("from-c"), rid="c")
    h.transact(writer, insert("w"), rid="w")
    while h.proposed:
        h.commit()
    assert [m["id"] for _, m in h.sent] == ["w", "b", "a", "c"]


def converted_schema() -> dict:
    schema = orjson.loads(orjson.dumps(SCHEMA))
    schema["version"] = "2.0.0"
    schema["tables"]["Pair"]["columns"]["c"] = {"type": {"key": "string", "min": 0}}
    return schema


def test_conversion_is_proposed_and_applied_once_committed():
    h = Harness()
    converter = h.session()
    watcher = h.session()
    for sid in (converter, watcher):
        h.request(sid, "set_db_change_aware", [True])
    h.request(watcher, "monitor_cond", ["_Server", "srv", {"Database": [{"columns": ["schema"]}]}])
    h.request(watcher, "monitor_cond", ["T", "m", {"Pair": [{}]}])
    h.transact(converter, insert("x"))
    h.commit()
    h.sent = []
    h.request(converter, "convert", ["T", converted_schema()], rid=5)
    assert h.sent == [] and h.hosted.schema.version == "1.0.0"
    h.commit()
    assert h.hosted.schema.version == "2.0.0" and h.rows() == ["x"]
    reply, server_update, canceled = h.sent
    assert reply == (converter, {"id": 5, "result": {}, "error": None})
    assert server_update[0] == watcher and server_update[1]["method"] == "update2"
    [row] = server_update[1]["params"][1]["Database"].values()
    assert '"2.0.0"' in row["modify"]["schema"]
    assert canceled == (watcher, {"id": None, "method": "monitor_canceled", "params": ["m"]})


class FailingCompaction:
    def compact(self, schema_json, snapshot):
        raise StorageError("t.db: rename failed (Read-only file system)")


def test_a_conversion_storage_cannot_commit_changes_nothing():
    h = Harness()
    converter = h.session()
    h.request(converter, "convert", ["T", converted_schema()], rid=5)
    failing = StandaloneStorage(h.hosted.schema, FailingCompaction())  # type: ignore[arg-type]
    h.commit(failing.propose)
    assert h.hosted.schema.version == "1.0.0"
    assert h.sent == [(converter, {"id": 5, "error": {
        "error": "I/O error", "details": "t.db: rename failed (Read-only file system)"}})]


def test_a_session_with_unsent_output_stays_merged_across_a_conversion():
    h = Harness(at_once=True)
    slow = h.session()
    h.request(slow, "set_db_change_aware", [True])
    h.carry_out(h.core.set_backlogged(slow, True))
    h.request(slow, "convert", ["T", converted_schema()])
    h.request(slow, "monitor_cond", ["T", "m", {"Pair": [{}]}])
    h.sent = []
    writer = h.session()
    h.transact(writer, insert("x"))
    assert h.take() == [(writer, "reply")]
    h.carry_out(h.core.set_backlogged(slow, False))
    assert h.take() == [(slow, ["x"])]
