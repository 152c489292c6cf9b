"""Split an OVSDB JSON-RPC byte stream into messages (sans-I/O).

OVSDB puts JSON-RPC messages back to back on the stream with no delimiter (RFC 7047
section 4).  ``Framer.feed(bytes) -> list[dict]`` finds where each message ends by
tracking bracket depth outside strings, then parses it.  Everything in the harness and
the tests that reads OVSDB traffic uses this one framer: the asyncio client, the
fault proxy, the tests' blocking ``Conn`` and the benchmarks.

This is one of two framers in the repository, by design: the reference server has its
own (``reference.wire.jsonrpc.StreamDecoder``, tuned for speed and for ovsdb-server's
exact error messages), and the harness may not import the reference.
``tests/harness/test_framing.py`` feeds both the same byte streams and holds what they
return and where they fail equal.  What the reference adds on top of framing (refusing
JSON-RPC messages with unknown members, ``\\u0000`` in strings, nesting deeper than
1000; reading integers outside int64 as reals) is not framing, and a tester must see
what a server really sent, so this framer leaves values as they are.  It finds a syntax error when the message's
brackets balance (the reference as soon as the bytes arrive, as ovsdb-server does).

Like ovsdb-server, it lets bytes that are not UTF-8 through inside strings (as
surrogate escapes), so a test can compare what two servers echo back.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

__all__ = ["Framer", "FramingError"]

DEFAULT_MAX_MESSAGE = 64 << 20

# Outside a string, the bytes that change the depth or start a string.
_STRUCTURAL = re.compile(rb'[\[\]{}"]')
# Inside a string, the bytes that may end it: its quote, or a backslash escaping one.
_STRING_STOP = re.compile(rb'["\\]')
_WHITESPACE = b" \t\r\n"
_OPEN_OBJECT = 0x7B  # "{"
_QUOTE = 0x22
_BACKSLASH = 0x5C


class FramingError(ValueError):
    """The byte stream is not a sequence of JSON objects: the connection is unusable.

    ``messages`` holds the complete messages that came before the error in the same
    ``feed`` call, so a reader can still act on them (ovsdb-server answers those).
    """

    def __init__(self, text: str, messages: list[Any] | None = None) -> None:
        super().__init__(text)
        self.messages: list[Any] = messages or []


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(text: bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as e:
        # orjson refuses bytes that are not UTF-8 inside strings; ovsdb-server passes
        # them through, so read them with surrogate escapes rather than lose the reply.
        try:
            return json.loads(text.decode("utf-8", "surrogateescape"),
                              parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise FramingError(f"bad JSON message: {e}: {text[:200]!r}") from e


class Framer:
    """Split a byte stream of concatenated JSON objects into parsed objects.

    JSON-RPC messages are always objects, so anything else at top level (a scalar, an
    array, a stray byte) is a framing error, as it is for ovsdb-server.  The scan is
    resumable: a long message arriving in pieces is scanned once.
    """

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self._buf = bytearray()
        self._scan = 0  # bytes of _buf (the unfinished message) already scanned
        self._depth = 0
        self._in_string = False
        self._max = max_message

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished message held until the rest arrives."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Any]:
        out: list[Any] = []
        try:
            self._split(data, out)
        except FramingError as e:
            e.messages = out
            raise
        return out

    def _split(self, data: bytes, out: list[Any]) -> None:
        buf = self._buf
        buf += data
        n = len(buf)
        pos = self._scan
        start = 0  # where the message being scanned begins in buf
        while True:
            if self._depth == 0 and not self._in_string:
                while pos < n and buf[pos] in _WHITESPACE:
                    pos += 1
                start = pos
                if pos == n:
                    break
                if buf[pos] != _OPEN_OBJECT:
                    raise FramingError(
                        f"expected a JSON object, found {bytes(buf[pos:pos + 20])!r}")
            if self._in_string:
                m = _STRING_STOP.search(buf, pos)
                if m is None:
                    pos = n
                    break
                if buf[m.start()] == _BACKSLASH:
                    if m.start() + 1 == n:  # the escaped byte has not arrived yet
                        pos = m.start()
                        break
                    pos = m.start() + 2
                    continue
                self._in_string = False
                pos = m.end()
                continue
            m = _STRUCTURAL.search(buf, pos)
            if m is None:
                pos = n
                break
            c = buf[m.start()]
            pos = m.end()
            if c == _QUOTE:
                self._in_string = True
            elif c in b"[{":
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    out.append(_parse(bytes(buf[start:pos])))
                    start = pos
        # Keep only the unfinished message, so the buffer does not grow with the session.
        del buf[:start]
        self._scan = pos - start
        if len(buf) > self._max:
            raise FramingError(f"message longer than {self._max} bytes")
