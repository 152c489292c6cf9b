"""The list-append checker (harness.elle) on hand-built histories, one per anomaly
class: each must be reported as its class and rule out the models it should, and a
valid history must pass every model."""

from __future__ import annotations

import pytest

from harness.elle import check
from harness.elle.generate import simulate
from harness.elle.models import MODELS
from tests.harness.elle_histories import CASES, valid

# The weakest model each anomaly rules out (every stronger one falls with it).
WEAKEST = {
    "G0": "read-committed", "G1a": "read-committed", "G1b": "read-committed",
    "G1c": "read-committed", "duplicate-elements": "read-committed",
    "phantom-element": "read-committed", "incompatible-order": "read-committed",
    "internal": "read-committed", "G-single": "snapshot-isolation",
    "lost-update": "snapshot-isolation", "G2-item": "serializable",
    "G-single-realtime": "strict-serializable", "G-single-process": "strict-serializable",
    "G0-realtime": "strict-serializable", "G1c-realtime": "strict-serializable",
}


def test_a_valid_history_passes_every_model():
    result = check(valid())
    assert result.anomalies == []
    assert set(result.models.values()) == {"valid"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_anomaly_is_named_and_rules_out_its_models(name):
    result = check(CASES[name])
    assert name in result.anomaly_types, result.summary()
    models = list(MODELS)
    weakest = models.index(WEAKEST[name])
    assert result.ruled_out() == models[weakest:], result.models
    found = next(a for a in result.anomalies if a.type == name)
    for t in found.txns:  # the explanation names every transaction involved
        assert f"T{t}" in found.explanation
    if found.steps:  # a cycle: each step says why, and the steps close the loop
        assert [s["to"] for s in found.steps] == [*found.txns[1:], found.txns[0]]
        assert all(s["why"] != "?" for s in found.steps)


def test_the_shortest_cycle_is_reported():
    g_single = next(a for a in check(CASES["G-single"]).anomalies if a.type == "G-single")
    assert len(g_single.txns) == 2
    assert [s["type"] for s in g_single.steps] in (["rw", "wr"], ["wr", "rw"])


def test_realtime_matters_only_to_strict_serializability():
    result = check(CASES["G-single-realtime"], model="serializable")
    assert result.validity == "valid"
    assert check(CASES["G-single-realtime"]).validity == "invalid"


def test_simulated_histories_valid_and_with_stale_reads():
    assert check(simulate(3000, seed=4)).validity == "valid"
    stale = check(simulate(3000, seed=4, stale=0.02))
    assert stale.validity == "invalid"
    assert any(t.endswith("-realtime") or t.endswith("-process") or t == "G-single"
               for t in stale.anomaly_types), stale.anomaly_types


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown consistency model"):
        check(valid(), model="linearizable")


def _edn(ops) -> str:
    from harness.jepsen_formats import Keyword, dumps

    def mop(m):
        return [Keyword(m[0]), m[1], m[2]]

    lines = []
    for op in ops:
        lines.append(dumps({Keyword("index"): op.index, Keyword("time"): op.time,
                            Keyword("type"): Keyword(op.type), Keyword("process"): op.process,
                            Keyword("f"): Keyword(op.f),
                            Keyword("value"): [mop(m) for m in op.value]}))
    return "\n".join(lines) + "\n"


def test_crucible_check_list_append_reads_jepsen_edn(tmp_path, capsys):
    from harness.linear.cli import main

    path = tmp_path / "history.edn"
    path.write_text(_edn(CASES["G1c"]))
    page = tmp_path / "elle.html"
    assert main(["--model", "list-append", "--format", "jepsen-edn", "--html", str(page),
                 str(path)]) == 1
    out = capsys.readouterr().out
    assert "G1c" in out and "read-committed: invalid" in out
    assert "<svg" in page.read_text()
    path.write_text(_edn(CASES["G-single-realtime"]))
    assert main(["--model", "list-append", "--format", "jepsen-edn", str(path)]) == 1
    assert main(["--model", "list-append", "--format", "jepsen-edn",
                 "--consistency", "serializable", str(path)]) == 0


def test_crucible_check_list_append_jsonl_and_unusable_input(tmp_path, capsys):
    from harness.history import write_jsonl
    from harness.linear.cli import main

    path = tmp_path / "history.jsonl"
    write_jsonl(valid(), path)
    assert main(["--model", "list-append", str(path)]) == 0
    path.write_text('{"index": 0, "process": 0, "type": "invoke", "f": "txn", '
                    '"value": [["write", "x", 1]]}\n')
    assert main(["--model", "list-append", str(path)]) == 3
    assert "not a list-append micro-op" in capsys.readouterr().err


def test_many_components_keep_a_known_verdict():
    # More components than examples kept per type: each must still be named, or the
    # models it does not break would read "unknown".
    from tests.harness.elle_histories import H, a, r

    h = H()
    for i in range(25):
        h.txn(0, a(f"x{i}", 1)).txn(1, r(f"x{i}", [])).txn(2, r(f"x{i}", [1]))
    result = check(h.ops)
    assert result.models["serializable"] == "valid"
    assert result.models["strict-serializable"] == "invalid"
    assert result.stats["components"] == 25
