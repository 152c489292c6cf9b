"""``crucible demo``: the README's main command, a short campaign against the reference
server that ends by printing the verdicts and the report's path."""

from __future__ import annotations

from harness.demo import DEFAULT_TARGET, main


def test_demo_prints_verdicts_and_report(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["--time", "10", "--out", str(out), "--quiet"])
    text = capsys.readouterr().out
    assert DEFAULT_TARGET == "reference"
    assert rc == 0, text
    assert "linearizability: linearizable" in text
    assert f"report: {out / 'report.html'}" in text
    assert (out / "report.html").exists() and (out / "history.jsonl").exists()
    assert "kill n1" in (out / "report.html").read_text()  # seed 1 kills the server once


def test_demo_rejects_bad_arguments(capsys):
    assert main(["--target", "nope"]) == 3
