"""The harness's framer, and the two framers held equal.

The repository has exactly two JSON-RPC framers by design: ``harness.framing.Framer``
(the harness and the tests) and ``reference.wire.jsonrpc.StreamDecoder`` (the server;
the harness may not import it).  ``test_both_framers_*`` feed both the same byte
streams, cut at every position or at random ones, and require the same messages and
a failure at the same message.  Their domain is framing: streams of JSON-RPC objects
whose values the reference keeps as they are (no NUL in strings, integers inside
int64), plus streams that are broken as streams.  The reference finds a syntax error
as soon as its bytes arrive, as ovsdb-server's incremental parser does; the harness's
framer when the broken message's brackets balance, so the broken messages here do.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.framing import Framer, FramingError
from reference.wire import jsonrpc

texts = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                max_size=8)
# Where back-to-back messages meet, and bytes that end strings or values early.
tricky = st.sampled_from(["}{", "a}{b", '"}{"', "]", "[{", "\\", '\\"}', "\\\\", "é}"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | texts | tricky,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts | tricky, inner,
                                                                 max_size=4),
    max_leaves=12,
)
ids = st.integers(-2**63, 2**63 - 1) | texts | tricky
requests = st.builds(lambda m, p, i: {"method": m, "params": p, "id": i},
                     texts | tricky, st.lists(json_values, max_size=3), ids)
notifications = st.builds(lambda m, p: {"method": m, "params": p, "id": None},
                          texts | tricky, st.lists(json_values, max_size=3))
replies = st.builds(lambda i, r, e: {"id": i, "result": r, "error": e},
                    ids, json_values, st.none() | texts)
messages = st.lists(requests | notifications | replies, min_size=1, max_size=5)
separators = st.sampled_from([b"", b" ", b"\n", b"\r\n\t "])

# Streams broken as streams: what follows the good messages in test_both_framers_fail_*.
BROKEN = [
    b"x",                      # a stray byte between messages
    b"42 ",                    # a scalar at top level
    b'"str"',
    b"[1,2]",                  # an array at top level
    b"}",                      # a close with nothing open
    b'{"id":1,"result":[1,]}',  # a syntax error inside a message
    b'{"id":1,"result":[}]',   # brackets that do not match
    b'{"id":1,"result":tru}',
    b'{"id":1,"result":NaN,"error":null}',
    b'{"id":1 "result":2}',
]


def _as_dict(msg: jsonrpc.Message) -> dict[str, Any]:
    if isinstance(msg, jsonrpc.Reply):
        return {"id": msg.id, "result": msg.result, "error": msg.error}
    id_ = msg.id if isinstance(msg, jsonrpc.Request) else None
    return {"method": msg.method, "params": msg.params, "id": id_}


def _run(framer: Any, stream: bytes, cuts: list[int]) -> tuple[list[Any], bool]:
    """Feed ``stream`` in pieces: the messages that came out, and whether it failed."""
    got: list[Any] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        try:
            got += framer.feed(stream[prev:cut])
        except (FramingError, jsonrpc.FramingError) as e:
            return got + e.messages, True
        prev = cut
    return got, False


def _both(stream: bytes, cuts: list[int]) -> tuple[list[Any], bool]:
    ours, ours_failed = _run(Framer(), stream, cuts)
    theirs, theirs_failed = _run(jsonrpc.StreamDecoder(), stream, cuts)
    assert (ours, ours_failed) == ([_as_dict(m) for m in theirs], theirs_failed), stream
    return ours, ours_failed


@settings(max_examples=300, deadline=None, derandomize=True)
@given(msgs=messages, sep=separators, data=st.data())
def test_both_framers_give_the_same_messages_for_any_cuts(msgs, sep, data):
    stream = sep.join(orjson.dumps(m) for m in msgs) + sep
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    assert _both(stream, cuts) == (msgs, False)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(msgs=messages, sep=separators, bad=st.sampled_from(BROKEN), data=st.data())
def test_both_framers_fail_after_the_same_messages(msgs, sep, bad, data):
    stream = sep.join(orjson.dumps(m) for m in msgs) + sep + bad + orjson.dumps(msgs[0])
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    assert _both(stream, cuts) == (msgs, True)


PIPELINED_MESSAGES = [
    {"method": "transact", "params": ["DB", {"op": "insert", "row": {"s": "}{\"]"}}],
     "id": 1},
    {"method": "update2", "params": ["m", {"T": {"u": {"s": "a\\\\"}}}], "id": None},
    {"id": "x}{", "result": [{"rows": [{"k": "[[[{"}]}], "error": None},
    {"id": 2, "result": None, "error": "é"},
]
PIPELINED = b"".join(orjson.dumps(m) for m in PIPELINED_MESSAGES)


def test_both_framers_agree_on_every_single_cut_and_byte_by_byte():
    want = (PIPELINED_MESSAGES, False)
    assert _both(PIPELINED, []) == want
    for cut in range(len(PIPELINED) + 1):
        assert _both(PIPELINED, [cut]) == want
    assert _both(PIPELINED, list(range(len(PIPELINED)))) == want


def test_both_framers_let_bytes_that_are_not_utf8_through_strings():
    stream = b'{"id":1,"result":["a\xff\xfe}{"],"error":null}'
    (msg,), failed = _both(stream, [])
    assert not failed and msg["result"] == ["a\udcff\udcfe}{"]


def test_messages_before_an_error_in_the_same_feed_are_kept():
    with pytest.raises(FramingError) as info:
        Framer().feed(b'{"id":1,"result":2,"error":null} x')
    assert info.value.messages == [{"id": 1, "result": 2, "error": None}]


def test_unfinished_message_is_buffered_not_lost():
    framer = Framer()
    assert framer.feed(b'{"id":1,"res') == [] and framer.buffered == 12
    assert framer.feed(b'ult":"}"}  ') == [{"id": 1, "result": "}"}]
    assert framer.buffered == 0


def test_message_longer_than_the_limit_fails():
    framer = Framer(max_message=100)
    with pytest.raises(FramingError, match="longer than 100"):
        framer.feed(b'{"id":1,"result":"' + b"x" * 200)
