"""CI's share of the coverage-guided fuzzing: every target for a few hundred inputs
(one process each, seeds first), and proof that the runner and the invariants catch
what they are there to catch.  ``make fuzz`` runs the long campaign."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from reference.data.database import Database
from reference.data.errors import OvsdbError
from tests.fuzz import dbstate
from tests.fuzz.targets import NAMES, framer

REPO = Path(__file__).resolve().parent.parent.parent
RUNS = 3000         # per target, seeds included; a fixed seed: the same inputs each run
SECONDS = 3         # per target, whatever RUNS says (libFuzzer stops at either)


@pytest.mark.parametrize("name", NAMES)
def test_target_runs_clean(name, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.run", name, f"--out={tmp_path}", f"-runs={RUNS}",
         f"-max_total_time={SECONDS}", "-seed=1"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    done = re.search(r"stat::number_of_executed_units: (\d+)", log)
    assert done and int(done.group(1)) >= 50, log[-2000:]
    print(f"fuzz {name}: {done.group(1)} inputs")


def test_runner_reports_a_crash_and_writes_the_input(tmp_path):
    # A target that raises is a crash: a non-zero exit, the traceback, the input kept.
    proc = subprocess.run(
        [sys.executable, "-c", "import atheris, sys\n"
         "def one(data):\n    raise RuntimeError('planted')\n"
         f"atheris.Setup([sys.argv[0], '-artifact_prefix={tmp_path}/', '-runs=10'], one)\n"
         "atheris.Fuzz()\n"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "planted" in proc.stdout + proc.stderr
    assert list(tmp_path.glob("crash-*"))


def test_framer_invariant_catches_chunk_dependence():
    # a syntax error before a byte that is not UTF-8: chunk by chunk and at once must
    # both break the stream (the decoder once waited for more when fed at once)
    framer.one_input(b'{"method":"transact","params":[e",{"op":"x"}\xac]}')
    out = framer.decode(lambda b: [b] if len(b) > 1 else [], ValueError, [b"ab"])
    assert out != framer.decode(lambda b: [b] if len(b) > 1 else [], ValueError,
                                [b"a", b"b"])


def test_database_invariants_must_fail_on_a_change():
    db = dbstate.fresh_database()
    before = dbstate.contents(db)
    dbstate.check_unchanged(before, db, "nothing")
    other = Database(db.schema)
    with pytest.raises(AssertionError):
        dbstate.check_unchanged(before, other, "emptying")
    assert dbstate.check_reload(db)


def test_dangling_weak_reference_in_a_min_1_set_is_the_known_reload_failure():
    # Found by the core target: OVS 3.1's quirk (copied) keeps a dangling weak reference
    # in a set column; when that column's minimum is 1, the database cannot be read back.
    from reference.wire.jsonrpc import Request
    from tests.fuzz.targets.core import Client

    c = Client()
    sid = c.core.open_session()
    ins = [{"op": "insert", "table": "Leaf", "row": {"tag": t}, "uuid-name": t}
           for t in "mn"]
    c.carry_out(c.core.receive(sid, Request("transact", ["Crucible", *ins, {
        "op": "insert", "table": "Holder", "row": {
            "name": "h", "must": ["named-uuid", "m"],
            "strong_leaf": ["named-uuid", "m"]}}, {
        "op": "insert", "table": "Holder", "row": {
            "name": "h2", "must": ["named-uuid", "n"], "strong_leaf": ["named-uuid", "n"]}}],
        1), 0), 0)
    c.carry_out(c.core.receive(sid, Request("transact", ["Crucible", {
        "op": "update", "table": "Holder", "where": [["name", "==", "h"]],
        "row": {"strong_leaf": ["set", []]}}], 2), 0), 0)
    assert dbstate.has_dangling(c.hosted.db)
    with pytest.raises(OvsdbError, match="become empty"):
        dbstate.reloaded(c.hosted.db)
    assert dbstate.check_reload(c.hosted.db) is False
