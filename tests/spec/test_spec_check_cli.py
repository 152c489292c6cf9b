"""`crucible spec check`: selection, exit codes 0/1/2, and what it prints."""

import shutil

import orjson

from harness.cli import main as crucible
from harness.spec import SPEC_DIR
from harness.spec.manifest import load_manifest, select


def test_list_and_select(capsys):
    assert crucible(["spec", "check", "--list"]) == 0
    out = capsys.readouterr().out
    assert "MonitorDelta_bug_hist" in out and "OvsdbRaft_sim" in out
    models = load_manifest()
    names = [m.name for m in select(models, ["Reconcile"], deep=False)]
    assert names == ["Reconcile", "Reconcile_bug_fallback", "Reconcile_bug_replay"]
    assert [m.name for m in select(models, ["Reconcile_bug_replay"], False)] == [
        "Reconcile_bug_replay"]


def test_unknown_spec_is_an_error(capsys):
    assert crucible(["spec", "check", "NoSuchSpec"]) == 2
    assert "no model matches" in capsys.readouterr().err


def _spec_dir(tmp_path, models, broken=False):
    for f in ("Reconcile.tla", "Reconcile_bug_fallback.cfg"):
        shutil.copy(SPEC_DIR / f, tmp_path / f)
    if broken:
        text = (tmp_path / "Reconcile.tla").read_text().replace("Converged ==", "Converged ==  (")
        (tmp_path / "Reconcile.tla").write_text(text)
    (tmp_path / "manifest.json").write_bytes(orjson.dumps({"models": models}))
    return tmp_path


BUG = {"name": "R_bug", "module": "Reconcile.tla", "cfg": "Reconcile_bug_fallback.cfg",
       "expect": "violation", "property": "Converged", "budget_s": 10}


def test_caught_bug_switch_exits_0_and_prints_trace(tmp_path, capsys):
    d = _spec_dir(tmp_path, [BUG])
    assert crucible(["spec", "check", "--spec-dir", str(d)]) == 0
    out = capsys.readouterr().out
    assert "[ok] R_bug: violation (Converged)" in out
    assert "State 1: Initial predicate" in out and "distinct=" in out and "depth=" in out


def test_violation_where_a_pass_is_expected_exits_1(tmp_path, capsys):
    d = _spec_dir(tmp_path, [{**BUG, "expect": "pass", "property": None}])
    assert crucible(["spec", "check", "--spec-dir", str(d)]) == 1
    out = capsys.readouterr().out
    assert "[WRONG]" in out and "/\\ replica" in out  # the full trace


def test_tlc_error_exits_2(tmp_path, capsys):
    d = _spec_dir(tmp_path, [BUG], broken=True)
    assert crucible(["spec", "check", "--spec-dir", str(d)]) == 2
    assert "[ERROR]" in capsys.readouterr().out
