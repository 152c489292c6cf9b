"""``crucible check`` (harness.linear.cli): the four exit codes, every input format, the
HTML output."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.history import Op, dumps_jsonl, write_jsonl
from harness.jepsen_formats import dumps_edn_history, dumps_jepsen_log
from harness.linear.cli import main
from harness.linear.generate import plant_violation, simulate
from harness.targets.server import REPO


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.jsonl"
    write_jsonl(simulate("cas-register", ops=50, info=6, seed=2), path)
    return path


@pytest.fixture
def bad(tmp_path):
    path = tmp_path / "bad.jsonl"
    write_jsonl(plant_violation(simulate("cas-register", ops=50, info=6, seed=2),
                                "cas-register"), path)
    return path


def test_exit_0_when_linearizable(good, capsys):
    assert main(["--model", "cas-register", str(good)]) == 0
    assert capsys.readouterr().out.startswith("linearizable")


def test_exit_1_when_not_and_html(bad, tmp_path, capsys):
    html = tmp_path / "out.html"
    assert main(["--model", "cas-register", "--html", str(html), str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("not-linearizable") and "could not place history index" in out
    assert "class='blocked'" in html.read_text()


def test_exit_2_on_timeout(tmp_path, capsys):
    n = 22  # every subset of 22 overlapping writes must be tried: far beyond 0.2 s
    ops = [Op(p, p, p, "invoke", "write", p) for p in range(n)]
    ops += [Op(n, n, n, "invoke", "read", None)]
    ops += [Op(n + 1 + p, n + 1 + p, p, "ok", "write", p) for p in range(n)]
    ops += [Op(2 * n + 1, 2 * n + 1, n, "ok", "read", -1)]
    path = tmp_path / "hard.jsonl"
    write_jsonl(ops, path)
    assert main(["--model", "register", "--timeout", "0.2", str(path)]) == 2
    assert capsys.readouterr().out.startswith("unknown")


def test_exit_3_names_the_malformed_line(good, capsys):
    lines = good.read_bytes().splitlines()
    lines[6] = b'{"index": 6, "process": 1, "type": "ok", "f": "read", "value": '
    good.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["--model", "cas-register", str(good)]) == 3
    err = capsys.readouterr().err
    assert f"{good}:7: not valid JSON" in err


def test_exit_3_for_ops_the_model_cannot_read(tmp_path, capsys):
    path = tmp_path / "h.jsonl"
    write_jsonl([Op(0, 0, 0, "invoke", "write", 1), Op(1, 1, 0, "ok", "write", 1),
                 Op(2, 2, 1, "invoke", "cas", 3)], path)
    assert main(["--model", "cas-register", str(path)]) == 3
    assert f"{path}:3: cas value must be [old, new]" in capsys.readouterr().err
    assert main(["--model", "counter", str(path)]) == 3
    assert "has no operation 'write'" in capsys.readouterr().err


def test_exit_3_for_bad_arguments(good, tmp_path, capsys):
    assert main(["--model", "nope", str(good)]) == 3
    assert main(["--model", "register", str(tmp_path / "missing.jsonl")]) == 3
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["jsonl", "jepsen-edn", "jepsen-log"])
def test_every_format(tmp_path, fmt):
    ops = plant_violation(simulate("register", ops=40, info=5, seed=4), "register")
    dump = {"jsonl": lambda o: dumps_jsonl(o).decode(), "jepsen-edn": dumps_edn_history,
            "jepsen-log": dumps_jepsen_log}[fmt]
    path = tmp_path / "h"
    path.write_text(dump(ops[:-4]))
    assert main(["--model", "register", "--format", fmt, str(path)]) == 0
    path.write_text(dump(ops))
    assert main(["--model", "register", "--format", fmt, str(path)]) == 1


def test_through_the_crucible_command(bad):
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "check", "--model", "cas-register", str(bad)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "not-linearizable" in proc.stdout


def test_exit_3_when_the_html_cannot_be_written(bad, tmp_path):
    """Not 1 (which means "not linearizable") and no traceback (issue 19)."""
    out = tmp_path / "no-such-dir" / "out.html"
    r = subprocess.run([sys.executable, "-m", "harness.cli", "check", "--model",
                        "cas-register", "--html", str(out), str(bad)], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"crucible check: cannot write {out}: No such file or directory"]
