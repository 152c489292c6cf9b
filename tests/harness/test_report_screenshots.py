"""The report's layout, seen by a browser: headless Chromium screenshots of the demo, a
failing register run, a failing monitor run and a failing list-append run must not be
blank (``make
report-shots`` writes the same pictures for people to look at)."""

from __future__ import annotations

import pytest

from harness.screenshots import INSTALL, blank_reason, find_browser, main, screenshot

pytestmark = [
    pytest.mark.timeout(400),
    pytest.mark.skipif(find_browser() is None,
                       reason=f"needs headless Chromium; as root run: {INSTALL}"),
]


def test_the_blank_check_can_fail(tmp_path):
    # A blank page and a page of one word are blank; a page with a table and colours
    # is not.  (The check that cannot fail would pass every screenshot.)
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    word = tmp_path / "word.html"
    word.write_text("<!DOCTYPE html><html><body>x</body></html>")
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html><body style='font:20px sans-serif'>" + "".join(
        f"<p style='color:hsl({h},70%,40%);background:hsl({h},70%,90%)'>row {h} "
        + "words " * 20 + "</p>" for h in range(0, 360, 12)) + "</body></html>")
    shots = {p.stem: screenshot(p, tmp_path / f"{p.stem}.png", height=800)
             for p in (blank, word, page)}
    assert blank_reason(shots["blank"].read_bytes())
    assert blank_reason(shots["word"].read_bytes())
    assert blank_reason(shots["page"].read_bytes()) is None


def test_demo_and_failing_runs_render(tmp_path, capsys):
    assert main([str(tmp_path)]) == 0, capsys.readouterr()
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == ["demo.png", "list-append-stale-read-elle.png",
                     "list-append-stale-read.png", "monitor-drop-update.png",
                     "register-stale-read-linear.png", "register-stale-read.png"]
    # The failing runs failed, and their pages say what failed.
    reg = (tmp_path / "register-stale-read" / "report.html").read_text()
    mon = (tmp_path / "monitor-drop-update" / "report.html").read_text()
    assert "not-linearizable" in reg and "Lies told" in reg
    assert "monitor: what failed" in mon and "dropped a monitor update" in mon
    txn = (tmp_path / "list-append-stale-read" / "report.html").read_text()
    assert "elle: what failed" in txn and "not strict-serializable" in txn
