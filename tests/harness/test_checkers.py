"""The checker protocol, and the monitor checker reading a monitor run from the history
alone (the event shape of ``harness.checkers.monitor.history``): a clean run passes,
and each planted fault fails its property with failures that point at the history
events showing it."""

from __future__ import annotations

import pytest

from harness.checkers import (
    CheckContext,
    CheckerResult,
    MonitorChecker,
    Timeline,
    run_checkers,
    validity_of,
)
from harness.checkers.monitor.history import FINAL_PROCESS, SETUP_PROCESS
from harness.checkers.timeline import FAILED_CSS, timeline_svg
from harness.history import Recorder, parse_jsonl

CLK = "00000000-0000-0000-0000-0000000000cc"
A = "aaaaaaaa-0000-0000-0000-000000000000"
B = "bbbbbbbb-0000-0000-0000-000000000000"
C = "cccccccc-0000-0000-0000-000000000000"
COND = {"Cell": [["key", "==", "clock"]], "Item": [["tag", "==", "x"]]}
COLUMNS = {"Cell": ["key", "value"], "Item": ["name", "value", "tag"]}


def row(name: str, value: int, tag: str) -> dict:
    return {"name": name, "value": value, "tag": tag}


def clock(n: int, items: dict | None = None) -> dict:
    return {"Cell": {CLK: {"modify": {"value": n}}}, **({"Item": items} if items else {})}


# What the client is sent, update by update (tag == "x"): txn 3's row is outside it.
UPDATES = [clock(1, {B: {"insert": row("b", 2, "x")}}),
           clock(2, {A: {"modify": {"value": 3}}}),
           clock(3)]


def record(updates: list[dict] = UPDATES, *, final: bool = True,
           refused_committed: bool = False) -> list:
    """A monitor run as the workload records it; txn 3's reply is lost (info) and the
    final read settles it."""
    rec = Recorder()
    rec.invoke(SETUP_PROCESS, "setup", {"rows": [row("a", 1, "x")]})
    rec.ok(SETUP_PROCESS, {"initial": {"Cell": {CLK: {"key": "clock", "value": 0}},
                                       "Item": {A: row("a", 1, "x")}}, "schema": None})
    rec.event("monitor", {"method": "monitor_cond", "cond": COND, "columns": COLUMNS,
                          "updates": {"Cell": {CLK: {"initial": {"key": "clock", "value": 0}}},
                                      "Item": {A: {"initial": row("a", 1, "x")}}}},
              process="m0")
    writes = [(0, 0, 11, [["insert", "new0", row("b", 2, "x")]], {B: row("b", 2, "x")}),
              (1, 1, 21, [["update", A, row("a", 3, "x")]], {A: row("a", 3, "x")}),
              (0, 2, 12, [["insert", "new0", row("c", 4, "y")]], None)]
    for (p, c, token, plan, changes), update in zip(writes, updates, strict=False):
        rec.invoke(p, "txn", {"clock": c, "token": token, "plan": plan})
        if changes is None:
            rec.info(p, error="RpcTimeout: no reply")
        else:
            rec.ok(p, {"seq": c + 1, "changes": {"Item": changes}})
        rec.event("update", {"updates": update}, process="m0")
    for update in updates[len(writes):]:
        rec.event("update", {"updates": update}, process="m0")
    if refused_committed:
        rec.invoke(1, "txn", {"clock": 0, "token": 22, "plan": []})
        rec.fail(1, error="timed out")
    if final:
        rec.invoke(FINAL_PROCESS, "final-read")
        rec.ok(FINAL_PROCESS, {"clock": 3, "rows": {A: row("a", 3, "x"), B: row("b", 2, "x"),
                                                    C: row("c", 4, "y")},
                               "log": [11, 12, 21] + ([22] if refused_committed else [])})
    # Round trip through JSON lines: the checker reads what history.jsonl holds.
    from harness.history import dumps_jsonl
    return parse_jsonl(dumps_jsonl(rec.ops))


def test_a_clean_run_passes_from_the_history_alone():
    result = MonitorChecker().check(record(), CheckContext())
    assert (result.validity, result.verdict) == ("valid", "ok"), result.to_dict()
    assert result.details["indeterminate"] == 1
    assert "1 writes had no definite reply; 1 of them committed" in result.details["notes"]
    assert result.summary.startswith("3 txns, 1 clients")


BAD = [
    ("reliable", [UPDATES[0], clock(2), UPDATES[2]], A),       # txn 2's change dropped
    ("ordered", [UPDATES[1], UPDATES[0], UPDATES[2]], None),   # two updates swapped
    ("unique", [UPDATES[0], UPDATES[0], UPDATES[1], UPDATES[2]], None),  # sent twice
    ("filtered", [UPDATES[0], UPDATES[1], clock(3, {C: {"insert": row("c", 4, "y")}})], C),
]


@pytest.mark.parametrize("prop,updates,bad_row", BAD, ids=[b[0] for b in BAD])
def test_each_planted_fault_fails_its_property_and_points_at_the_history(prop, updates,
                                                                          bad_row):
    ops = record(updates)
    result = MonitorChecker().check(ops, CheckContext())
    assert (result.validity, result.verdict) == ("invalid", "failed")
    assert not result.details["properties"][prop]["ok"], result.to_dict()
    mine = [f for f in result.failures if f.what == prop]
    assert mine and all(f.client == "m0" and f.events for f in mine)
    by_index = {op.index: op for op in ops}
    assert any(by_index[i].process == "m0" for f in mine for i in f.events)
    if bad_row is not None:
        assert any(f.row == f"Item {bad_row}" for f in mine)
    if prop == "reliable":  # the write whose change never arrived is evidence too
        txn2 = next(op.index for op in ops if op.f == "txn" and op.type == "ok"
                    and op.value["seq"] == 2)
        assert any(txn2 in f.events for f in mine)


def test_without_the_final_read_the_checker_cannot_say_yes():
    result = MonitorChecker().check(record(final=False), CheckContext())
    assert result.validity == "unknown" and result.verdict == "error"
    assert any("could not read the final state" in n for n in result.details["notes"])


def test_a_refused_write_that_committed_fails_the_run():
    # Mutation seen to fail: check_acknowledged ignoring refused writes (issue 19: it
    # was only a note).
    ops = record(refused_committed=True)
    result = MonitorChecker().check(ops, CheckContext())
    assert (result.validity, result.verdict) == ("invalid", "failed"), result.to_dict()
    assert not result.details["properties"]["acknowledged"]["ok"]
    [f] = [f for f in result.failures if f.what == "acknowledged"]
    assert "write 22 was refused" in f.message
    by_index = {op.index: op for op in ops}
    assert [by_index[i].type for i in f.events] == ["fail"]


def _with_extra_ack(token: int, seq: int, in_log: bool) -> list:
    """The clean run plus one more write acknowledged as transaction ``seq``."""
    from harness.history import dumps_jsonl
    ops = record()
    rec = Recorder()
    for op in ops[:-2]:
        rec.ops.append(op)
    rec.invoke(5, "txn", {"clock": seq - 1, "token": token, "plan": []})
    rec.ok(5, {"seq": seq, "changes": {"Item": {}}})
    final = ops[-1].value
    rec.invoke(FINAL_PROCESS, "final-read")
    rec.ok(FINAL_PROCESS, {**final, "log": final["log"] + ([token] if in_log else [])})
    return parse_jsonl(dumps_jsonl(rec.ops))


@pytest.mark.parametrize("in_log", [False, True], ids=["not-in-log", "twice-acked"])
def test_an_acknowledged_write_the_log_contradicts_fails_the_run(in_log):
    # A faked ack: write 31 claims transaction 2 (really write 21's) and its token is
    # not in the final log; or it is, and two writes were acknowledged as one
    # transaction.  Mutations seen to fail: the token lookup dropped; the duplicate
    # seq overwriting the first (the history then loses write 21, and the stream
    # checks pass).
    ops = _with_extra_ack(31, 2, in_log)
    result = MonitorChecker().check(ops, CheckContext())
    assert result.verdict == "failed", result.to_dict()
    # The timeline marks the writer's acknowledged op (mutation seen to fail: spans
    # without their history indices).
    svg = timeline_svg(ops, 2, {i for f in result.failures for i in f.events})
    assert svg.count(f'stroke="{FAILED_CSS}"') == 1
    assert result.details["properties"]["acknowledged"]["violations"] == 1
    [f] = [f for f in result.failures if f.what == "acknowledged"]
    assert ("both acknowledged as transaction 2" in f.message) == in_log, f.message
    # Only the writers' side fails: write 21 stays transaction 2 for the streams.
    assert [p for p, v in result.details["properties"].items() if not v["ok"]] == \
        ["acknowledged"]


class _Boom:
    name = "boom"

    def check(self, history, context):
        raise RuntimeError("bad input")


class _Fails:
    name = "fails"

    def check(self, history, context):
        return CheckerResult("invalid", "nope", failures=[])


def test_a_crashing_checker_is_unknown_and_the_others_still_run():
    results = run_checkers([_Boom(), _Fails()], [], CheckContext())
    assert results["boom"].validity == "unknown" and "bad input" in results["boom"].summary
    assert results["fails"].to_dict()["verdict"] == "invalid"
    assert validity_of({"verdict": "not-linearizable"}) == "invalid"
    assert validity_of({"verdict": "linearizable"}) == "valid"
    assert validity_of({"verdict": "failed", "validity": "unknown"}) == "unknown"


def test_the_timeline_marks_the_events_a_failure_points_at(tmp_path):
    ops = record(BAD[0][1])
    ctx = CheckContext(out=tmp_path)
    results = run_checkers([MonitorChecker(), Timeline(workers=2)], ops, ctx)
    assert results["monitor"].validity == "invalid"
    svg = (tmp_path / "timeline.svg").read_text()
    assert results["timeline"].artifacts == {"timeline": "timeline.svg"}
    assert ">m0</text>" in svg and FAILED_CSS in svg
    clean = Timeline(workers=2).check(record(), CheckContext())
    assert clean.validity == "valid" and not clean.artifacts  # no out: no file


def test_linearizability_points_at_the_op_that_cannot_be_placed(tmp_path):
    from harness.checkers import Linearizability

    rec = Recorder()
    rec.invoke(0, "write", 1, key="k")
    rec.ok(0)
    rec.invoke(1, "read", None, key="k")
    rec.ok(1, 2)  # nobody wrote 2
    result = Linearizability("register").check(rec.ops, CheckContext(out=tmp_path))
    assert (result.validity, result.verdict) == ("invalid", "not-linearizable")
    assert result.artifacts and (tmp_path / "linear.html").exists()
    [failure] = result.failures
    assert failure.events == (2, 3) and failure.client == "p1"
    good = Recorder()
    good.invoke(0, "write", 1, key="k")
    good.ok(0)
    ok = Linearizability("register").check(good.ops, CheckContext(out=tmp_path / "x"))
    assert ok.validity == "valid" and not ok.failures and not ok.artifacts
