"""Jepsen's formats: the EDN reader/writer, history.edn and the legacy text log."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.history import HistoryError, Op, dumps_jsonl
from harness.jepsen_formats import (
    EdnError,
    EdnList,
    Keyword,
    Symbol,
    dumps,
    dumps_edn_history,
    dumps_jepsen_log,
    loads,
    parse_edn_history,
    parse_jepsen_log,
    read_history,
    to_json,
)


def same(a, b) -> bool:
    """Equality that also tells vectors from lists and strings from keywords."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


name = st.from_regex(r"[a-z][a-z0-9\-\.\*]{0,6}(/[a-z][a-z0-9\-]{0,4})?", fullmatch=True)
scalar = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=10) | name.map(Keyword)
    | name.filter(lambda s: s not in ("nil", "true", "false")).map(Symbol)
)
hashable = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3).map(tuple),
                        max_leaves=6)
edn_value = st.recursive(
    hashable,
    lambda inner: st.lists(inner, max_size=4).map(tuple)
    | st.lists(inner, max_size=4).map(EdnList)
    | st.frozensets(hashable, max_size=4)
    | st.dictionaries(hashable, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(edn_value)
def test_edn_round_trip(v):
    assert same(loads(dumps(v)), v)


def test_edn_reader_subset():
    text = r"""{:a 1, :b [1 2.5 -3 4N 5.0M], "s" "q\"\n\\", :set #{:x}, :l (1 (2)),
               :nil nil :t true :f false :ch [\a \newline \space] ; comment
               :ns/kw sym #_ :skipped :tagged #inst "2020-01-01" :rec #jepsen.history.Op{:k 1}}"""
    v = loads(text)
    assert v[Keyword("a")] == 1
    assert same(v[Keyword("b")], (1, 2.5, -3, 4, 5.0))
    assert v["s"] == 'q"\n\\'
    assert v[Keyword("set")] == frozenset({Keyword("x")})
    assert same(v[Keyword("l")], EdnList((1, EdnList((2,)))))
    assert v[Keyword("nil")] is None and v[Keyword("t")] is True and v[Keyword("f")] is False
    assert v[Keyword("ch")] == ("a", "\n", " ")
    assert v[Keyword("ns/kw")] == Symbol("sym")
    assert Keyword("skipped") not in v
    assert v[Keyword("tagged")] == "2020-01-01"
    assert v[Keyword("rec")] == {Keyword("k"): 1}
    assert to_json(v[Keyword("set")]) == ["x"]


@pytest.mark.parametrize("bad", ["{:a 1", "[1 2", "{:a}", '"open', ")", "#", r"\nope", "1 2"])
def test_edn_errors(bad):
    with pytest.raises(EdnError):
        loads(bad)


OPS = [
    Op(0, 10, 0, "invoke", "write", 3),
    Op(1, 20, 1, "invoke", "read", None),
    Op(2, 30, 0, "ok", "write", 3),
    Op(3, 35, "nemesis", "info", "start", "partition n1"),
    Op(4, 40, 1, "ok", "read", 3),
    Op(5, 50, 2, "invoke", "cas", [3, 4]),
    Op(6, 60, 2, "info", "cas", [3, 4], None, {"error": "timed-out"}),
    Op(7, 70, 7, "invoke", "add", {"columns": {"v": [1, "x"]}}, "row-1"),
    Op(8, 80, 7, "fail", "add", {"columns": {"v": [1, "x"]}}, "row-1", {"error": ["x", 1]}),
]


def test_edn_history_round_trip():
    text = dumps_edn_history(OPS)
    assert text.splitlines()[0] == "{:index 0, :time 10, :type :invoke, :process 0, :f :write, :value 3}"
    assert ":process :nemesis" in text.splitlines()[3]
    back = parse_edn_history(text)
    assert back == OPS
    assert [o.line for o in back] == list(range(1, len(OPS) + 1))
    assert dumps_edn_history(back) == text


def test_edn_history_as_jepsen_writes_it():
    text = (
        "{:type :invoke, :f :read, :value nil, :process 0, :time 1565, :index 0}\n"
        "{:type :ok, :f :read, :value #{1 2}, :process 0, :time 2000, :index 1}\n"
        "{:type :info, :f :start, :value [:isolated {\"n1\" #{\"n2\"}}], :process :nemesis,"
        " :time 2100, :index 2}\n"
    )
    ops = parse_edn_history(text)
    assert ops[1] == Op(1, 2000, 0, "ok", "read", [1, 2])
    assert ops[2].process == "nemesis"
    assert ops[2].value == ["isolated", {"n1": ["n2"]}]


def test_edn_history_errors_name_the_line():
    text = "{:index 0, :type :invoke, :f :read, :process 0}\n[1 2]\n"
    with pytest.raises(HistoryError, match="expected an op map") as e:
        parse_edn_history(text, "h.edn")
    assert e.value.line == 2
    with pytest.raises(HistoryError, match="bad EDN") as e:
        parse_edn_history("{:index 0}\n{:index 1 :f\n", "h.edn")
    assert e.value.line == 2
    with pytest.raises(HistoryError, match="'type' must be") as e:
        parse_edn_history("{:index 0, :type :done, :f :read, :process 0}\n")
    assert e.value.line == 1


# The legacy log as old Jepsen tests printed it (the shape of Porcupine's etcd data).
LOG = """\
2017-06-13 10:34:23,431{GMT}	INFO	[jepsen worker 3] jepsen.util: 3	:invoke	:read	nil
INFO  jepsen.core - Worker 2 starting
INFO  jepsen.util - 2	:invoke	:cas	[4 0]
INFO  jepsen.util - 3	:ok	:read	4
INFO  jepsen.util - :nemesis	:info	:start	nil
INFO  jepsen.util - 2	:info	:cas	[4 0]	:timed-out
INFO  jepsen.util - 7	:invoke	:write	1
INFO  jepsen.util - 7	:fail	:write	1	"boom"
"""


def test_legacy_log_import():
    ops = parse_jepsen_log(LOG)
    assert [(o.index, o.process, o.type, o.f, o.value) for o in ops] == [
        (0, 3, "invoke", "read", None),
        (1, 2, "invoke", "cas", [4, 0]),
        (2, 3, "ok", "read", 4),
        (3, "nemesis", "info", "start", None),
        (4, 2, "info", "cas", [4, 0]),
        (5, 7, "invoke", "write", 1),
        (6, 7, "fail", "write", 1),
    ]
    assert ops[4].extra == {"error": "timed-out"}
    assert [o.line for o in ops] == [1, 3, 4, 5, 6, 7, 8]


def test_legacy_log_round_trip():
    keyless = [o for o in OPS if o.key is None]
    text = dumps_jepsen_log(keyless)
    back = parse_jepsen_log(text)
    # the log carries no index or time: they become the line order
    strip = [(o.process, o.type, o.f, o.value, o.extra) for o in keyless]
    assert [(o.process, o.type, o.f, o.value, o.extra) for o in back] == strip
    assert dumps_jepsen_log(back) == text


def test_legacy_log_independent_keys():
    keyed = [Op(0, 0, 1, "invoke", "write", 5, "k1"), Op(1, 1, 1, "ok", "write", 5, "k1")]
    text = dumps_jepsen_log(keyed, independent=True)
    assert "\t[\"k1\" 5]" in text
    back = parse_jepsen_log(text, independent=True)
    assert [(o.key, o.value) for o in back] == [("k1", 5), ("k1", 5)]


def test_legacy_log_bad_line():
    with pytest.raises(HistoryError, match="bad EDN") as e:
        parse_jepsen_log("INFO  jepsen.util - 1\t:invoke\t:read\tnil\n"
                         "INFO  jepsen.util - 1\t:ok\t:read\t[1 2\n", "x.log")
    assert e.value.line == 2


@pytest.mark.parametrize("fmt", ["jsonl", "jepsen-edn", "jepsen-log"])
def test_read_history_every_format(tmp_path, fmt):
    keyless = [o for o in OPS if o.key is None]
    path = tmp_path / "h"
    if fmt == "jsonl":
        path.write_bytes(dumps_jsonl(keyless))
    elif fmt == "jepsen-edn":
        path.write_text(dumps_edn_history(keyless))
    else:
        path.write_text(dumps_jepsen_log(keyless))
    back = read_history(path, fmt)
    assert [(o.process, o.type, o.f, o.value) for o in back] == \
        [(o.process, o.type, o.f, o.value) for o in keyless]


def test_read_history_missing_file(tmp_path):
    with pytest.raises(HistoryError, match="cannot read"):
        read_history(tmp_path / "nope.jsonl")


def test_etcd_style_log_checks_end_to_end():
    """Old Jepsen etcd logs put the error in the value slot of an info completion
    (``:info :cas :timed-out``); the op's argument is the invoke's value."""
    from harness.linear import check

    log = (
        "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
        "INFO  jepsen.util - 0\t:ok\t:write\t1\n"
        "INFO  jepsen.util - 1\t:invoke\t:cas\t[1 2]\n"
        "INFO  jepsen.util - 1\t:info\t:cas\t:timed-out\n"
        "INFO  jepsen.util - 2\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 2\t:ok\t:read\t2\n"
        "INFO  jepsen.util - 6\t:invoke\t:read\tnil\n"
        "INFO  jepsen.util - 6\t:ok\t:read\t1\n"
    )
    ops = parse_jepsen_log(log)
    assert ops[3].value == "timed-out"
    assert check(ops[:6], "cas-register").verdict == "linearizable"
    r = check(ops, "cas-register")
    assert r.verdict == "not-linearizable"
    assert r.operations[r.failure.blocked].process == 6


# Porcupine's kv data (MIT 6.824), one EDN map per line without :index or :time; a get
# of a key never written reads "".
PORCUPINE_KV = """\
{:process 0, :type :invoke, :f :put, :key "1", :value "x 0 0 y"}
{:process 1, :type :invoke, :f :get, :key "2", :value nil}
{:process 0, :type :ok, :f :put, :key "1", :value nil}
{:process 1, :type :ok, :f :get, :key "2", :value ""}
{:process 2, :type :invoke, :f :append, :key "1", :value "x 2 0 y"}
{:process 0, :type :invoke, :f :append, :key "1", :value "x 0 1 y"}
{:process 2, :type :ok, :f :append, :key "1", :value nil}
{:process 0, :type :ok, :f :append, :key "1", :value nil}
{:process 1, :type :invoke, :f :get, :key "1", :value nil}
{:process 1, :type :ok, :f :get, :key "1", :value "x 0 0 yx 0 1 yx 2 0 y"}
"""


def test_kv_get_put_append_from_edn_check():
    from harness.linear import check

    ops = parse_edn_history(PORCUPINE_KV)
    assert [o.f for o in ops[:3]] == ["put", "get", "put"] and ops[0].key == "1"
    assert check(ops, "kv").verdict == "linearizable"
    # the appends were concurrent, so either order is fine; a get that skips one is not
    bad = PORCUPINE_KV.replace('"x 0 0 yx 0 1 yx 2 0 y"', '"x 0 0 yx 0 1 y"')
    r = check(parse_edn_history(bad), "kv")
    assert r.verdict == "not-linearizable"
    assert r.operations[r.failure.blocked].f == "get"


def test_kv_get_put_append_from_the_log_check():
    from harness.linear import check

    log = (
        "INFO  jepsen.util - 0\t:invoke\t:put\t[:a \"1\"]\n"
        "INFO  jepsen.util - 0\t:ok\t:put\t[:a \"1\"]\n"
        "INFO  jepsen.util - 1\t:invoke\t:append\t[:a \"2\"]\n"
        "INFO  jepsen.util - 1\t:ok\t:append\t[:a \"2\"]\n"
        "INFO  jepsen.util - 2\t:invoke\t:get\t[:a nil]\n"
        "INFO  jepsen.util - 2\t:ok\t:get\t[:a \"12\"]\n"
        "INFO  jepsen.util - 3\t:invoke\t:get\t[:a nil]\n"
        "INFO  jepsen.util - 3\t:ok\t:get\t[:a \"1\"]\n"
    )
    ops = parse_jepsen_log(log, independent=True)
    assert {o.f for o in ops} == {"put", "append", "get"} and ops[0].key == "a"
    assert check(ops[:6], "kv").verdict == "linearizable"
    r = check(ops, "kv")
    assert r.verdict == "not-linearizable"
    assert r.operations[r.failure.blocked].process == 3


json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def histories(draw, keys: bool):
    ops = []
    for index in range(draw(st.integers(0, 10))):
        extra = draw(st.dictionaries(st.sampled_from(["error", "node"]), json_value,
                                     max_size=2))
        if not keys:
            extra = {k: v for k, v in extra.items() if k == "error"}
        ops.append(Op(index, index if not keys else draw(st.integers(0, 2**60)),
                      draw(st.integers(0, 30) | st.sampled_from(["nemesis", "setup"])),
                      draw(st.sampled_from(["invoke", "ok", "fail", "info"])),
                      draw(st.sampled_from(["read", "write", "cas", "add", "start-kill"])),
                      draw(json_value),
                      draw(st.none() | st.text(max_size=3) | st.integers(0, 99)) if keys else None,
                      extra))
    return ops


@settings(max_examples=60, deadline=None)
@given(histories(keys=True))
def test_edn_history_round_trip_property(ops):
    assert parse_edn_history(dumps_edn_history(ops)) == ops


@settings(max_examples=60, deadline=None)
@given(histories(keys=False))
def test_legacy_log_round_trip_property(ops):
    # the log has no key, index or time: index and time come back as the line order
    assert parse_jepsen_log(dumps_jepsen_log(ops)) == ops
