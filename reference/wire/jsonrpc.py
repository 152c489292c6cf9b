"""JSON-RPC 1.0 over a byte stream, as OVSDB speaks it (RFC 7047 section 4), sans I/O.

The stream is a concatenation of JSON texts with no delimiter.  ``StreamDecoder.feed``
takes whatever bytes arrived and returns the complete messages, keeping the rest.  It
finds message boundaries with a small scanner that only tracks brackets and strings;
the text of one message is then parsed by orjson.

Framing errors are fatal to the connection, as in ovsdb-server: the decoder raises
``FramingError`` with a message in the form ovsdb-server logs ("error parsing stream:
...", "received bad JSON-RPC message: ..."), and the shell logs it and disconnects.
Limits a client cannot get around: nesting deeper than 1000 (the real server's limit)
and a single message larger than ``max_message_bytes`` (ours; the real server has none).

Where orjson is stricter than ovsdb-server, we follow the server: bytes that are not
UTF-8 inside a string pass through the framing (they are refused later, where OVS
refuses them, as "not a valid UTF-8 string"), so such a message is parsed by the
standard library with surrogate escapes; ``\u0000`` in a string drops the connection.
A syntax error is found as soon as the bytes before it have arrived (OVS's parser is
incremental; ours checks an unfinished message's prefix while it is under
``PREFIX_CHECK_BYTES``, and finds errors in larger ones when they end).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import orjson

MAX_DEPTH = 1000
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
PREFIX_CHECK_BYTES = 256 * 1024

# Bytes that change the scanner's state outside a string.
_STRUCTURAL = re.compile(rb'[\[\]{}"]')
# Inside a string, the next byte that matters: its closing quote or an escape.
_STRING_STOP = re.compile(rb'["\\]')
_WHITESPACE = b" \t\r\n"


class FramingError(Exception):
    """The byte stream cannot be parsed: the connection must be dropped.

    ``messages`` holds the complete messages that came before the error in the same
    ``feed``: ovsdb-server answers those before it drops the connection, and so do we.
    """

    messages: list = []


@dataclass(slots=True)
class Request:
    method: str
    params: list
    id: Any


@dataclass(slots=True)
class Notification:
    method: str
    params: list


@dataclass(slots=True)
class Reply:
    id: Any
    result: Any
    error: Any


Message = Request | Notification | Reply


class StreamDecoder:
    """Splits a byte stream into JSON-RPC messages."""

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buf = bytearray()
        self._scan = 0  # bytes of _buf already scanned
        self._depth = 0
        self._in_string = False
        self._offset = 0  # stream offset of _buf[0], for error messages

    def feed(self, data: bytes) -> list[Message]:
        self._buf += data
        messages: list[Message] = []
        try:
            if self._split_fast(messages):
                return messages
            return self._split(messages)
        except FramingError as e:
            e.messages = messages
            raise

    def _split_fast(self, messages: list[Message]) -> bool:
        """The common case in C: orjson finds where each message ends.

        Used while no partial scan is under way and the buffer is small (so that
        re-parsing a growing message is cheap); anything unusual (deep nesting, bytes
        that are not UTF-8, a syntax error) is left to the scanner, which reports it
        exactly as ovsdb-server does.  Returns True when the scanner has nothing to add:
        the buffer is empty, or holds the valid beginning of a message that cannot yet
        be too deep.
        """
        buf = self._buf
        if not buf:
            return True
        if self._scan or len(buf) > PREFIX_CHECK_BYTES:
            return False
        data = bytes(buf)
        view = memoryview(data)
        # What parse_message looks for in each message, looked for once in the whole
        # buffer: a pipelining client sends many small messages in one segment.
        shallow = data.count(b"[") + data.count(b"{") <= MAX_DEPTH
        plain = not (b"\\u0000" in data or _has_long_number(data))
        ascii_only = data.isascii()
        pos, n = 0, len(data)
        done = True
        try:
            while pos < n:
                if data[pos] in _WHITESPACE:
                    while pos < n and data[pos] in _WHITESPACE:
                        pos += 1
                    continue
                if data[pos] not in b"[{":
                    done = False
                    break
                # Messages sent back to back meet as "}{", which valid JSON holds
                # nowhere else but inside a string: if the text up to there parses, it
                # is the whole first message, found without orjson raising (costly).
                parsed = _UNPARSED
                cut = data.find(b"}{", pos) + 1
                if cut:
                    try:
                        parsed = orjson.loads(view[pos:cut])
                        end = cut
                    except orjson.JSONDecodeError:
                        pass
                try:
                    if parsed is _UNPARSED:
                        parsed = orjson.loads(view[pos:])
                        end = n
                except orjson.JSONDecodeError as e:
                    if e.msg.startswith("unexpected content after document"):
                        # orjson counts characters, not bytes
                        end = pos + (e.pos if ascii_only else
                                     len(data[pos:].decode()[:e.pos].encode()))
                    elif e.msg.startswith("unexpected end of data"):
                        # Incomplete and valid so far.  Deep or oversized prefixes go
                        # on to _split, which refuses them without waiting for the end.
                        done = shallow and n - pos <= self.max_message_bytes
                        break
                    else:
                        done = False
                        break
                # Parsed, and nothing for parse_message to look at: no copy of the text.
                direct = plain and parsed is not _UNPARSED
                text = b"" if shallow and direct else data[pos:end]
                if not shallow and text.count(b"[") + text.count(b"{") > MAX_DEPTH:
                    done = False  # may be too deep: the scanner measures it
                    break
                pos = end
                if direct:
                    messages.append(message_from_json(parsed))
                else:
                    messages.append(parse_message(text, parsed))
        finally:
            view.release()
            del buf[:pos]
            self._offset += pos
        return done

    def _split(self, messages: list[Message]) -> list[Message]:
        while True:
            end = self._find_end()
            if end is None:
                if len(self._buf) > self.max_message_bytes:
                    raise FramingError(
                        f"message exceeds maximum size of {self.max_message_bytes} bytes")
                if self._buf and len(self._buf) <= PREFIX_CHECK_BYTES:
                    _check_prefix(bytes(self._buf))
                return messages
            text = bytes(self._buf[:end])
            del self._buf[:end]
            self._offset += end
            self._scan = 0
            messages.append(parse_message(text))

    def _find_end(self) -> int | None:
        """Return the end offset of the first complete JSON text, or None."""
        buf = self._buf
        pos = self._scan
        if self._depth == 0 and not self._in_string:
            # Skip whitespace before the next value; anything but an object or an
            # array at top level is what OVS calls a syntax error.
            while pos < len(buf) and buf[pos] in _WHITESPACE:
                pos += 1
            if pos:
                del buf[:pos]
                self._offset += pos
                pos = 0
            if not buf:
                self._scan = 0
                return None
            if buf[0] not in b"[{":
                raise FramingError(f"error parsing stream: byte {self._offset}: "
                                   "syntax error at beginning of input")
        while True:
            if self._in_string:
                # Resumable: a long string arriving in pieces is scanned once.
                m = _STRING_STOP.search(buf, pos)
                if m is None:
                    self._scan = len(buf)
                    return None
                if buf[m.start()] == 0x5C:  # a backslash escapes the next byte
                    if m.start() + 1 >= len(buf):
                        self._scan = m.start()
                        return None
                    pos = m.start() + 2
                    continue
                pos = m.end()
                self._in_string = False
                continue
            m = _STRUCTURAL.search(buf, pos)
            if m is None:
                self._scan = len(buf)
                return None
            c = buf[m.start()]
            pos = m.end()
            if c == 0x22:  # '"'
                self._in_string = True
            elif c in b"[{":
                self._depth += 1
                if self._depth > MAX_DEPTH:
                    raise FramingError(
                        f"error parsing stream: byte {self._offset + m.start()}: "
                        f"input exceeds maximum nesting depth {MAX_DEPTH}")
            else:
                self._depth -= 1
                if self._depth == 0:
                    self._scan = pos
                    return pos


# A run of 19 digits may be an integer outside int64 (see _int64_or_real); finding one
# by mapping every digit to "0" and everything else to " " is several times cheaper
# than a regular expression.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_DIGIT_RUN = b"0" * 19


def _has_long_number(text: bytes) -> bool:
    return _DIGIT_RUN in text.translate(_DIGITS_ONLY)

# OVS's lexer keeps a number going while strchr(".0123456789eE-+", c) finds c, and
# strchr finds the NUL that ends its own argument: so NUL bytes join a number, and the
# number's text, read as a C string, stops at the first one ("1\0" is 1, "1\02" too).
_STRING_OR_NUMBER = re.compile(rb'"(?:[^"\\]|\\.)*"|[-0-9][-+.0-9eE\0]*', re.DOTALL)


def _nul_in_numbers_dropped(text: bytes) -> bytes | None:
    """``text`` as OVS reads numbers that NUL bytes joined, or None if none did."""
    changed = False

    def fix(m: re.Match) -> bytes:
        nonlocal changed
        token = m.group()
        if token[:1] == b'"' or b"\0" not in token:
            return token
        changed = True
        return token[:token.index(b"\0")]

    out = _STRING_OR_NUMBER.sub(fix, text)
    return out if changed else None


def _check_prefix(prefix: bytes) -> None:
    """Raise FramingError if ``prefix`` cannot begin any JSON text."""
    if b"\0" in prefix:  # NUL bytes that end a number are let through, as parse_message does
        prefix = _nul_in_numbers_dropped(prefix) or prefix
    try:
        orjson.loads(prefix)
    except orjson.JSONDecodeError as e:
        if "UTF-8" in e.msg:
            # orjson checks the encoding before the syntax: check the part before the
            # first byte that is not UTF-8 (such bytes may pass in a string), or a
            # syntax error before it goes unseen, and the scanner, out of step with
            # the strings, may wait for the message's end up to max_message_bytes.
            try:
                prefix.decode()
            except UnicodeDecodeError as bad:
                _check_prefix(prefix[:bad.start])
        elif not e.msg.startswith("unexpected end of data"):
            raise FramingError(f"error parsing stream: {e}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid keyword {name}")


_UNPARSED = object()


def parse_message(text: bytes, parsed: Any = _UNPARSED) -> Message:
    """The message in ``text`` (``parsed``: what orjson already made of it, if known)."""
    try:
        obj = orjson.loads(text) if parsed is _UNPARSED else parsed
    except orjson.JSONDecodeError as e:
        lenient = _nul_in_numbers_dropped(text) if b"\0" in text else None
        if lenient is not None:
            return parse_message(lenient)
        if "UTF-8" not in e.msg:
            raise FramingError(f"error parsing stream: {e}") from None
        try:
            obj = json.loads(text.decode("utf-8", "surrogateescape"),
                             parse_constant=_reject_constant)
        except ValueError as e2:
            raise FramingError(f"error parsing stream: {e2}") from None
    if _has_long_number(text):
        obj = _int64_or_real(obj)
    if b"\\u0000" in text and _has_nul(obj):
        raise FramingError("error parsing stream: null bytes not supported in quoted strings")
    return message_from_json(obj)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any("\0" in k or _has_nul(v) for k, v in value.items())
    return False


def _int64_or_real(value: Any) -> Any:
    """OVS's JSON parser reads an integer outside int64 as a real; so do we."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -2**63 <= value < 2**63 else float(value)
    if isinstance(value, list):
        return [_int64_or_real(v) for v in value]
    if isinstance(value, dict):
        return {k: _int64_or_real(v) for k, v in value.items()}
    return value


_MEMBERS = {"method", "params", "result", "error", "id"}


def message_from_json(obj: Any) -> Message:
    """Validate a decoded JSON value as a JSON-RPC message, with OVS's rules."""
    if type(obj) is not dict:
        raise FramingError("received bad JSON-RPC message: message is not a JSON object")
    if len(obj) == 3:  # the commonest shape: a request with method, params and an id
        method, params, id_ = obj.get("method"), obj.get("params"), obj.get("id")
        if type(method) is str and type(params) is list and id_ is not None:
            return Request(method, params, id_)
    if not obj.keys() <= _MEMBERS:
        key = next(k for k in obj if k not in _MEMBERS)
        raise FramingError(
            f'received bad JSON-RPC message: message has unexpected member "{key}"')
    method = obj.get("method", _UNPARSED)
    if method is not _UNPARSED:
        params = obj.get("params")
        if type(method) is not str:
            raise FramingError('received bad JSON-RPC message: "method" is not a string')
        if type(params) is not list:
            raise FramingError('received bad JSON-RPC message: "params" must be JSON array')
        if "result" in obj or "error" in obj:
            raise FramingError("received bad JSON-RPC message: request has result or error")
        id_ = obj.get("id")
        if id_ is None:
            return Notification(method, params)
        return Request(method, params, id_)
    if obj.get("id") is None:
        raise FramingError("received bad JSON-RPC message: reply lacks id")
    if "result" not in obj and "error" not in obj:
        raise FramingError("received bad JSON-RPC message: reply lacks result and error")
    return Reply(obj["id"], obj.get("result"), obj.get("error"))


def ovs_reals(value: Any) -> Any:
    """Round reals to the 15 significant digits ovsdb-server prints (%.15g)."""
    if isinstance(value, float):
        return float(f"{value:.15g}")
    if isinstance(value, list):
        return [ovs_reals(v) for v in value]
    if isinstance(value, dict):
        return {k: ovs_reals(v) for k, v in value.items()}
    return value


# Encoders.  The member order matches what ovsdb-server writes.

def dumps(value: Any) -> bytes:
    """orjson, or the standard library for what orjson refuses: nesting deeper than
    254 and strings carrying surrogate escapes of non-UTF-8 input."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False).encode("utf-8", "surrogateescape")


def _echo_id(id: Any) -> Any:
    # Ids are echoed as OVS holds them: an id read as a real is printed as one.
    return id if isinstance(id, (int, str)) else ovs_reals(id)


def encode_reply(id: Any, result: Any) -> bytes:
    return dumps({"id": _echo_id(id), "result": result, "error": None})


def encode_error(id: Any, error: Any) -> bytes:
    # ovsdb-server leaves "result" out of an error reply.
    return dumps({"id": _echo_id(id), "error": error})


def encode_notification(method: str, params: list) -> bytes:
    return dumps({"id": None, "method": method, "params": params})


def encode_request(method: str, params: list, id: Any) -> bytes:
    return dumps({"id": id, "method": method, "params": params})
