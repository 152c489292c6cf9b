"""Crash test: durable commits survive ``kill -9``.

A writer keeps several transactions in flight, each an insert of a fresh key followed by
``{"op": "commit", "durable": true}``.  At a seeded random number of acknowledgements the
server is killed with SIGKILL (so the kill lands while other commits are being written),
the file is read back with ``reference.storage.log_file``, the server is restarted on the same
file, and every key whose transaction was acknowledged must be there, exactly once, and
nothing that was never sent.  Several rounds on one file, so recovery after recovery is
exercised too.  Runs against the real ovsdb-server (the oracle: the test itself must hold
there) and against ours.
"""

from __future__ import annotations

import os
import random
import threading
import time

import orjson
import pytest

from harness.targets.server import start_server
from reference.storage import log_file
from tests.reference.wire import Conn, ConnectionClosed

SCHEMA = {"name": "Crash", "version": "1.0.0",
          "tables": {"T": {"columns": {"key": {"type": "string"},
                                       "round": {"type": "integer"}},
                           "indexes": [["key"]]}}}
SEED = int(os.environ.get("CRUCIBLE_CRASH_SEED", "20261124"))
ROUNDS = 4
DEPTH = 4              # transactions in flight at once
MAX_PER_ROUND = 2000   # bound on one round's writes, whatever happens
ROUND_DEADLINE = 8.0   # seconds to reach the kill point


def txn(key: str, round_no: int) -> list:
    return ["Crash", {"op": "insert", "table": "T", "row": {"key": key, "round": round_no}},
            {"op": "commit", "durable": True}]


def writer(port: int, round_no: int, sent: set, acked: list, failures: list) -> None:
    """Pipelined durable inserts until the server dies (or the bound is reached)."""
    try:
        conn = Conn("127.0.0.1", port)
    except OSError as e:
        failures.append(f"connect: {e}")
        return
    try:
        in_flight: set[str] = set()
        i = 0
        while i < MAX_PER_ROUND or in_flight:
            while len(in_flight) < DEPTH and i < MAX_PER_ROUND:
                key = f"r{round_no}-{i}"
                sent.add(key)  # before sending: it may commit even if no reply comes
                conn.send({"method": "transact", "params": txn(key, round_no), "id": key})
                in_flight.add(key)
                i += 1
            msg = conn.recv()
            if msg is None:
                return
            in_flight.discard(msg.get("id"))
            result = msg.get("result")
            if msg.get("error") is None and isinstance(result, list) and all(
                    not (isinstance(r, dict) and "error" in r) for r in result):
                acked.append(msg["id"])
            else:
                failures.append(msg)
    except (OSError, ConnectionClosed):
        return  # the kill: connection reset mid-stream
    finally:
        conn.close()


def keys_on_disk(path: str) -> list[str]:
    """Keys of the inserts in the file, read with our storage code (after the kill)."""
    parsed = log_file.read(path)
    assert parsed.bad is None or parsed.torn_tail, parsed.bad
    return [row["key"] for rec in parsed.records[1:]
            for row in (rec.get("T") or {}).values() if row and "key" in row]


def keys_served(port: int) -> list[str]:
    conn = Conn("127.0.0.1", port)
    try:
        reply = conn.request("transact", ["Crash", {"op": "select", "table": "T", "where": [],
                                                 "columns": ["key"]}])
    finally:
        conn.close()
    return [row["key"] for row in reply["result"][0]["rows"]]


def problems(acked: list[str], sent: set[str], served: list[str]) -> list[str]:
    """What is wrong with the state a restarted server serves (empty: all good)."""
    out = []
    missing = set(acked) - set(served)
    if missing:
        out.append(f"acknowledged durable commits lost: {sorted(missing)[:10]}")
    if len(served) != len(set(served)):
        out.append("a transaction was applied twice")
    if not set(served) <= sent:
        out.append(f"rows nobody wrote: {sorted(set(served) - sent)[:10]}")
    return out


def run_round(kind: str, tmp_path, schema, round_no: int, target: int, sent: set[str]):
    """Start (or restart) the server, write until `target` acks, kill -9 it."""
    srv = start_server(kind, tmp_path, [schema])
    acked: list[str] = []
    failures: list = []
    t = threading.Thread(target=writer, daemon=True,
                         args=(srv.port, round_no, sent, acked, failures))
    try:
        t.start()
        deadline = time.monotonic() + ROUND_DEADLINE
        while len(acked) < target and t.is_alive() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert len(acked) >= target, f"round {round_no}: only {len(acked)} acks, {failures}"
    finally:
        srv.kill()
        t.join(10)
    assert not t.is_alive()
    assert not failures, failures
    return srv, acked


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["ovsdb-server", "reference"])
def test_acknowledged_durable_commits_survive_kill_9(tmp_path, kind):
    rng = random.Random(f"{SEED}-{kind}")
    print(f"crash test seed {SEED} ({kind}); rerun with CRUCIBLE_CRASH_SEED={SEED}")
    schema = tmp_path / "crash.ovsschema"
    schema.write_bytes(orjson.dumps(SCHEMA))
    sent: set[str] = set()
    acked_all: list[str] = []
    srv = None
    try:
        for round_no in range(ROUNDS):
            srv, acked = run_round(kind, tmp_path, schema, round_no, rng.randint(3, 60), sent)
            acked_all += acked
            on_disk = keys_on_disk(str(srv.dbfiles[0]))
            assert set(acked_all) <= set(on_disk), "acknowledged but not in the file"
            print(f"round {round_no}: killed after {len(acked)} acks "
                  f"({len(sent) - len(acked_all)} unacknowledged so far)")
        srv = start_server(kind, tmp_path, [schema])
        assert problems(acked_all, sent, keys_served(srv.port)) == []
    finally:
        if srv is not None:
            srv.stop()


@pytest.mark.timeout(60)
def test_the_check_catches_a_lost_commit(tmp_path):
    """Known-bad: drop the last acknowledged record from the file behind the server's
    back (what a server that acks before writing would leave); the check must see it."""
    schema = tmp_path / "crash.ovsschema"
    schema.write_bytes(orjson.dumps(SCHEMA))
    sent: set[str] = set()
    srv, acked = run_round("ovsdb-server", tmp_path, schema, 0, 5, sent)
    path = str(srv.dbfiles[0])
    parsed = log_file.read(path)
    keep = [r for r in parsed.records
            if not any(row and row.get("key") == acked[-1] for row in (r.get("T") or {}).values())]
    assert len(keep) == len(parsed.records) - 1
    with open(path, "wb") as f:
        f.write(b"".join(log_file.encode_record(r) for r in keep))
    srv = start_server("ovsdb-server", tmp_path, [schema])
    try:
        found = problems(acked, sent, keys_served(srv.port))
    finally:
        srv.stop()
    assert found and acked[-1] in found[0]
    assert problems(acked, sent, [*acked, acked[0]]) == ["a transaction was applied twice"]
    assert problems(acked, sent, [*acked, "ghost"])[0].startswith("rows nobody wrote")


# A child that appends durable records and compacts every few steps, acknowledging each
# step on stdout once it returned.  Step i is the record {"i": i} or, every fifth step,
# a compaction to the snapshot {"upto": i}.  It resumes after the file's last step.
COMPACTOR = """
import sys
from reference.storage import log_file
log, schema, records = log_file.LogFile.open(sys.argv[1])
last = records[-1].get("i", records[-1].get("upto")) if records else 0
for i in range(last + 1, last + 100000):
    if i % 5 == 0:
        log.compact(schema, {"upto": i})
    else:
        log.append({"i": i}, durable=True)
    print(i, flush=True)
"""


@pytest.mark.timeout(60)
def test_kill_9_during_appends_and_compactions_loses_nothing(tmp_path):
    """Whatever instant the kill lands on (mid-append, mid-compaction, between the
    rename and the next append), the file opens and holds every acknowledged step."""
    import subprocess
    import sys

    from harness.targets.server import REPO

    rng = random.Random(f"{SEED}-compaction")
    path = str(tmp_path / "c.db")
    log_file.create(path, SCHEMA)
    acked = 0
    for _ in range(6):
        target = acked + rng.randint(3, 60)
        child = subprocess.Popen([sys.executable, "-c", COMPACTOR, path], cwd=REPO,
                                 stdout=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 10
            while acked < target and time.monotonic() < deadline:
                line = child.stdout.readline()
                if not line:
                    break
                acked = int(line)
        finally:
            child.kill()
            child.wait(10)
            child.stdout.close()
        assert acked >= target, f"child stopped at step {acked}"
        log, schema, records = log_file.LogFile.open(path)
        log.close()
        assert schema == SCHEMA
        # At most one snapshot, first; then single steps, consecutive, up to at least
        # the last acknowledged one.
        assert all("i" in r for r in records[1:])
        steps = [r.get("upto", r.get("i")) for r in records]
        assert steps == list(range(steps[0], steps[0] + len(steps)))
        assert "upto" in records[0] or steps[0] == 1
        assert steps[-1] >= acked
