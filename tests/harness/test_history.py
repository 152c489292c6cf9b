"""The history format: JSON lines in and out, pairing, the recorder."""

from __future__ import annotations

import io

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.history import (
    HistoryError,
    Op,
    Recorder,
    dumps_jsonl,
    pair,
    parse_jsonl,
    read_jsonl,
    write_jsonl,
)

json_scalar = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def op_lists(draw):
    n = draw(st.integers(0, 12))
    ops, index = [], 0
    for _ in range(n):
        index += draw(st.integers(1, 3))
        process = draw(st.integers(0, 5) | st.just("nemesis"))
        extra = draw(st.dictionaries(st.sampled_from(["error", "node", "note"]), json_value,
                                     max_size=2))
        ops.append(Op(index, draw(st.integers(0, 2**62)), process,
                      draw(st.sampled_from(["invoke", "ok", "fail", "info"])),
                      draw(st.sampled_from(["read", "write", "cas", "add"])),
                      draw(json_value), draw(st.none() | st.text(max_size=3) | st.integers(-(2**63), 2**63 - 1)),
                      extra))
    return ops


@settings(max_examples=100, deadline=None)
@given(op_lists())
def test_jsonl_round_trip(ops):
    assert parse_jsonl(dumps_jsonl(ops)) == ops


def test_file_round_trip_and_line_numbers(tmp_path):
    ops = [Op(0, 5, 1, "invoke", "write", 3, "a"), Op(1, 9, 1, "ok", "write", 3, "a")]
    path = tmp_path / "h.jsonl"
    write_jsonl(ops, path)
    back = read_jsonl(path)
    assert back == ops
    assert [o.line for o in back] == [1, 2]


@pytest.mark.parametrize(
    "line, problem",
    [
        (b"{not json", "not valid JSON"),
        (b'{"index":1,"process":0,"type":"invoke"}', "missing field 'f'"),
        (b'{"index":1,"process":0,"type":"done","f":"read"}', "'type' must be one of"),
        (b'{"index":-1,"process":0,"type":"ok","f":"read"}', "'index' must be"),
        (b'{"index":1,"process":1.5,"type":"ok","f":"read"}', "'process' must be"),
        (b'{"index":1,"time":"x","process":1,"type":"ok","f":"read"}', "'time' must be"),
        (b"[1, 2]", "expected an object"),
    ],
)
def test_malformed_line_is_named(line, problem):
    good = b'{"index":0,"time":0,"process":0,"type":"invoke","f":"read","value":null}\n'
    with pytest.raises(HistoryError) as e:
        parse_jsonl(good + b"\n" + line + b"\n", "h.jsonl")
    assert e.value.line == 3
    assert problem in str(e.value)
    assert str(e.value).startswith("h.jsonl:3: ")


def test_index_must_increase():
    data = dumps_jsonl([Op(4, 0, 0, "invoke", "read"), Op(4, 1, 0, "ok", "read")])
    with pytest.raises(HistoryError, match="index 4 does not follow index 4") as e:
        parse_jsonl(data)
    assert e.value.line == 2


def test_pair_matches_calls_with_completions():
    ops = [
        Op(0, 0, 0, "invoke", "write", 1),
        Op(1, 1, 1, "invoke", "read", None),
        Op(2, 2, "nemesis", "info", "kill", "n1"),
        Op(3, 3, 0, "ok", "write", 1),
        Op(4, 4, 1, "info", "read", None),
        Op(5, 5, 2, "invoke", "cas", [1, 2]),
        Op(6, 6, 2, "fail", "cas", [1, 2]),
        Op(7, 7, 3, "invoke", "write", 9),
    ]
    got = pair(ops)
    assert [(o.process, o.f, o.status, o.call_index, o.return_index) for o in got] == [
        (0, "write", "ok", 0, 3),
        (1, "read", "info", 1, None),
        (2, "cas", "fail", 5, 6),
        (3, "write", "info", 7, None),  # never completed: indeterminate
    ]
    assert got[0].output == 1 and got[1].output is None


@pytest.mark.parametrize(
    "ops, problem",
    [
        ([Op(0, 0, 0, "ok", "read", 1)], "with no invoke"),
        ([Op(0, 0, 0, "invoke", "read"), Op(1, 0, 0, "invoke", "read")], "has not completed"),
        ([Op(0, 0, 0, "invoke", "read"), Op(1, 0, 0, "ok", "write", 1)], "does not match"),
    ],
)
def test_pair_rejects_impossible_sequences(ops, problem):
    for n, o in enumerate(ops, 1):
        o.line = n
    with pytest.raises(HistoryError, match=problem) as e:
        pair(ops)
    assert e.value.line == len(ops)


def test_recorder(tmp_path):
    ticks = iter(range(100, 10_000, 100))
    path = tmp_path / "h.jsonl"
    with Recorder(path, clock=lambda: next(ticks)) as rec:
        rec.invoke(0, "write", 5, key="k")
        rec.invoke(1, "read")
        with pytest.raises(ValueError, match="already has an operation"):
            rec.invoke(1, "read")
        rec.ok(0)
        rec.event("partition", ["n1", "n2"])
        rec.info(1)
        rec.invoke(3, "read")
        rec.ok(3, 5)
        assert rec.pending() == {}
    back = read_jsonl(path)
    assert back == rec.ops
    assert [(o.index, o.time) for o in back] == [(i, 100 * (i + 1)) for i in range(7)]
    assert back[2] == Op(2, 300, 0, "ok", "write", 5, "k")
    assert back[3].process == "nemesis" and back[3].type == "info"
    assert back[6].value == 5
    assert [o.status for o in pair(back)] == ["ok", "info", "ok"]


def test_recorder_to_open_file():
    buf = io.BytesIO()
    rec = Recorder(buf)
    rec.invoke(0, "add", 1)
    rec.fail(0, error="timeout")
    rec.close()
    lines = [orjson.loads(x) for x in buf.getvalue().splitlines()]
    assert lines[1]["type"] == "fail" and lines[1]["error"] == "timeout"
