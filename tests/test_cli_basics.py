"""The ``crucible`` command's own answers (issue 19): ``--version``, and ``--help``
after a ``db`` subcommand is help, not a file name. Each runs the real command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.targets.server import REPO


def crucible(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_version():
    r = crucible("--version")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("crucible (ovsdb-crucible) ")


@pytest.mark.parametrize("args", [["show-log", "--help"], ["show-log", "-h"],
                                  ["-m", "show-log", "--help"], ["compact", "--help"]])
def test_db_subcommand_help_is_help(args):
    r = crucible("db", *args)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "crucible db show-log [-m] DBFILE" in r.stdout


def test_db_show_log_missing_file_is_one_line(tmp_path):
    r = crucible("db", "show-log", str(tmp_path / "nope.db"))
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"crucible db: {tmp_path / 'nope.db'}: open failed (No such file or directory)"]


def test_db_commands_on_a_clustered_file_say_so(tmp_path):
    schema = REPO / "tests" / "reference" / "schemas" / "crucible.ovsschema"
    db = tmp_path / "c.db"
    made = crucible("db", "create-cluster", str(db), str(schema), "tcp:127.0.0.1:16999")
    assert made.returncode == 0, made.stderr
    assert crucible("db", "show-log", str(db)).returncode == 0  # it reads the raft log
    for args in (["repair", str(db)], ["compact", str(db), str(tmp_path / "x.db")],
                 ["db-version", str(db)]):
        r = crucible("db", *args)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        (line,) = r.stderr.strip().splitlines()
        assert line.startswith(f"crucible db: {db}: is a clustered database"), line
