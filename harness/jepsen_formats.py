"""Jepsen's history formats: ``history.edn`` and the legacy text log, both ways.

``history.edn`` holds one EDN map per op (Jepsen writes one per line)::

    {:index 0, :time 1234, :type :invoke, :process 0, :f :read, :value nil}

The legacy text log is what old Jepsen tests printed through ``jepsen.util`` (the etcd
histories Porcupine ships are in it); everything on a line before ``jepsen.util`` is
ignored, other lines are skipped::

    INFO  jepsen.util - 3	:invoke	:cas	[4 0]
    INFO  jepsen.util - 3	:info	:cas	[4 0]	:timed-out

Fields are tab-separated: process, type, f, value and an optional error.  The log has no
index or time: ops are numbered in line order and ``time`` is set to the index.

Operation names are kept as written: Jepsen's and Knossos' kv histories (and
Porcupine's kv test data) say ``:get``/``:put``/``:append``, which the ``kv`` model takes
as read/write/append; a ``:key`` field (or ``[key value]`` with ``independent``) names
the key.

The EDN reader covers the subset Jepsen writes: maps, vectors, lists, sets, keywords,
symbols, strings, characters, integers (``N``), floats (``M``), ``nil``, booleans,
comments, ``#_`` discard and tagged literals (``#jepsen.history.Op{...}``,
``#inst "..."``: the tag is dropped, the form kept).  Python representations: keyword ->
:class:`Keyword`, symbol -> :class:`Symbol`, vector -> tuple, list -> :class:`EdnList`,
set -> frozenset, map -> dict.  :func:`to_json` turns any of those into JSON-ready values
(keywords become their names, vectors/lists/sets become lists).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.history import HistoryError, Op, check_order

# ----------------------------------------------------------------------------- EDN values


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str

    def __str__(self) -> str:
        return ":" + self.name


@dataclass(frozen=True, slots=True)
class Symbol:
    name: str

    def __str__(self) -> str:
        return self.name


class EdnList(tuple):
    """An EDN list ``( ... )``: kept apart from vectors so it prints back as a list."""

    __slots__ = ()


class EdnError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


_WS = " \t\r\n,"
_DELIM = _WS + "()[]{}\";"
_NUM = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?[NM]?$")
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r",
          "backspace": "\b", "formfeed": "\f"}
_ESC = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "b": "\b", "f": "\f"}


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.n = len(text)
        self._at, self._line = 0, 1  # newlines counted so far, so big files stay linear

    def line(self, at: int | None = None) -> int:
        at = self.i if at is None else at
        if at < self._at:
            return self.s.count("\n", 0, at) + 1
        self._line += self.s.count("\n", self._at, at)
        self._at = at
        return self._line

    def err(self, msg: str) -> EdnError:
        return EdnError(self.line(), msg)

    def skip(self) -> None:
        s, n = self.s, self.n
        while self.i < n:
            c = s[self.i]
            if c in _WS:
                self.i += 1
            elif c == ";":
                j = s.find("\n", self.i)
                self.i = n if j < 0 else j + 1
            elif s.startswith("#_", self.i):
                self.i += 2
                self.read()
            else:
                return

    def at_end(self) -> bool:
        self.skip()
        return self.i >= self.n

    def read(self) -> Any:
        self.skip()
        if self.i >= self.n:
            raise self.err("unexpected end of input")
        s = self.s
        c = s[self.i]
        if c == "{":
            self.i += 1
            items = self.seq("}")
            if len(items) % 2:
                raise self.err("map literal needs an even number of forms")
            return {_hashable(items[k]): items[k + 1] for k in range(0, len(items), 2)}
        if c == "[":
            self.i += 1
            return tuple(self.seq("]"))
        if c == "(":
            self.i += 1
            return EdnList(self.seq(")"))
        if c == '"':
            return self.string()
        if c == "\\":
            return self.char()
        if c == "#":
            if s.startswith("#{", self.i):
                self.i += 2
                return frozenset(_hashable(x) for x in self.seq("}"))
            if s.startswith("##", self.i):
                self.i += 2
                special = {"Inf": float("inf"), "-Inf": float("-inf"), "NaN": float("nan")}
                tok = self.token()
                if tok not in special:
                    raise self.err(f"unknown symbolic value ##{tok}")
                return special[tok]
            self.i += 1
            tag = self.token()
            if not tag:
                raise self.err("'#' must be followed by a tag, '{' or '_'")
            return self.read()  # a tagged literal: keep the form, drop the tag
        if c in ")]}":
            raise self.err(f"unexpected {c!r}")
        tok = self.token()
        if tok.startswith(":"):
            if len(tok) == 1:
                raise self.err("empty keyword")
            return Keyword(tok[1:])
        if _NUM.match(tok):
            return _number(tok)
        if tok == "nil":
            return None
        if tok == "true":
            return True
        if tok == "false":
            return False
        if not tok:
            raise self.err(f"unexpected {c!r}")
        return Symbol(tok)

    def seq(self, close: str) -> list[Any]:
        start = self.i - 1
        out = []
        while True:
            self.skip()
            if self.i >= self.n:
                # name the line where the unclosed form began: that is where to look
                raise EdnError(self.line(start), f"{close!r} missing for the form begun here")
            if self.s[self.i] == close:
                self.i += 1
                return out
            out.append(self.read())

    def token(self) -> str:
        j = self.i
        while j < self.n and self.s[j] not in _DELIM:
            j += 1
        tok, self.i = self.s[self.i:j], j
        return tok

    def string(self) -> str:
        s, out = self.s, []
        self.i += 1
        while True:
            if self.i >= self.n:
                raise self.err("unterminated string")
            c = s[self.i]
            if c == '"':
                self.i += 1
                return "".join(out)
            if c == "\\":
                e = s[self.i + 1 : self.i + 2]
                if e == "u":
                    hexd = s[self.i + 2 : self.i + 6]
                    if not re.fullmatch(r"[0-9a-fA-F]{4}", hexd):
                        raise self.err(f"bad unicode escape \\u{hexd}")
                    out.append(chr(int(hexd, 16)))
                    self.i += 6
                    continue
                if e not in _ESC:
                    raise self.err(f"bad escape \\{e}")
                out.append(_ESC[e])
                self.i += 2
                continue
            out.append(c)
            self.i += 1

    def char(self) -> str:
        self.i += 1
        j = self.i + 1  # the first character is always part of it, even a delimiter
        while j < self.n and self.s[j] not in _DELIM:
            j += 1
        tok, self.i = self.s[self.i:j], j
        if len(tok) == 1:
            return tok
        if tok in _CHARS:
            return _CHARS[tok]
        if re.fullmatch(r"u[0-9a-fA-F]{4}", tok):
            return chr(int(tok[1:], 16))
        raise self.err(f"unknown character literal \\{tok}")


def _number(tok: str) -> int | float:
    if tok.endswith("N"):
        return int(tok[:-1])
    if tok.endswith("M") or any(c in tok for c in ".eE"):
        return float(tok.rstrip("M"))
    return int(tok)


def _hashable(x: Any) -> Any:
    if isinstance(x, dict):
        raise TypeError("maps as map keys or set members are not supported")
    return x


def loads(text: str) -> Any:
    """Read exactly one EDN form."""
    r = _Reader(text)
    v = r.read()
    if not r.at_end():
        raise r.err("more than one form")
    return v


def iter_forms(text: str) -> list[tuple[int, Any]]:
    """Read every top-level form, each with the 1-based line it starts on."""
    r = _Reader(text)
    out = []
    while not r.at_end():
        line = r.line()
        out.append((line, r.read()))
    return out


def dumps(x: Any) -> str:
    """Write a value as EDN.  Python lists and tuples become vectors, str a string."""
    if x is None:
        return "nil"
    if x is True:
        return "true"
    if x is False:
        return "false"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        r = repr(x)
        if r in ("inf", "-inf", "nan"):
            return {"inf": "##Inf", "-inf": "##-Inf", "nan": "##NaN"}[r]
        return r if any(c in r for c in ".eE") else r + ".0"
    if isinstance(x, str):
        out = ['"']
        for c in x:
            if c in ('"', "\\"):
                out.append("\\" + c)
            elif c == "\n":
                out.append("\\n")
            elif c == "\t":
                out.append("\\t")
            elif c == "\r":
                out.append("\\r")
            elif ord(c) < 0x20:
                out.append(f"\\u{ord(c):04x}")
            else:
                out.append(c)
        out.append('"')
        return "".join(out)
    if isinstance(x, Keyword | Symbol):
        return str(x)
    if isinstance(x, EdnList):
        return "(" + " ".join(dumps(v) for v in x) + ")"
    if isinstance(x, list | tuple):
        return "[" + " ".join(dumps(v) for v in x) + "]"
    if isinstance(x, set | frozenset):
        return "#{" + " ".join(sorted(dumps(v) for v in x)) + "}"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{dumps(k)} {dumps(v)}" for k, v in x.items()) + "}"
    raise TypeError(f"cannot write {type(x).__name__} as EDN")


def to_json(x: Any) -> Any:
    """An EDN value as plain JSON-ready Python (for Op values)."""
    if isinstance(x, Keyword | Symbol):
        return x.name
    if isinstance(x, dict):
        return {_json_key(k): to_json(v) for k, v in x.items()}
    if isinstance(x, frozenset):
        items = [to_json(v) for v in x]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    if isinstance(x, tuple):
        return [to_json(v) for v in x]
    return x


def _json_key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if isinstance(k, Keyword | Symbol):
        return k.name
    return dumps(k)


# ----------------------------------------------------------------------------- history.edn

_EDN_FIELDS = ("index", "time", "type", "process", "f", "value", "key")


def parse_edn_history(text: str, source: str | None = None) -> list[Op]:
    """Ops from ``history.edn``.  A missing ``:index`` is the op's position; a missing
    ``:time`` is 0."""
    try:
        forms = iter_forms(text)
    except EdnError as e:
        raise HistoryError(e.line, f"bad EDN: {e.message}", source) from None
    except TypeError as e:
        raise HistoryError(None, f"bad EDN: {e}", source) from None
    ops = []
    for pos, (line, form) in enumerate(forms):
        if not isinstance(form, dict):
            raise HistoryError(line, f"expected an op map, got {dumps(form)[:60]}", source)
        d = {_json_key(k): v for k, v in form.items()}
        d.setdefault("index", pos)
        d.setdefault("time", 0)
        for name in ("type", "f"):
            if isinstance(d.get(name), Keyword):
                d[name] = d[name].name
        if isinstance(d.get("process"), Keyword):
            d["process"] = d["process"].name
        d = {k: (v if k in ("index", "time", "type", "f", "process") else to_json(v))
             for k, v in d.items()}
        ops.append(Op.from_dict(d, line, source))
    check_order(ops, source)
    return ops


def dumps_edn_history(ops: list[Op]) -> str:
    lines = []
    for op in ops:
        m: dict[Any, Any] = {
            Keyword("index"): op.index,
            Keyword("time"): op.time,
            Keyword("type"): Keyword(op.type),
            Keyword("process"): Keyword(op.process) if isinstance(op.process, str) else op.process,
            Keyword("f"): Keyword(op.f),
            Keyword("value"): op.value,
        }
        if op.key is not None:
            m[Keyword("key")] = op.key
        for k, v in op.extra.items():
            m.setdefault(Keyword(k), v)
        lines.append(dumps(m) + "\n")
    return "".join(lines)


# ----------------------------------------------------------------------------- legacy log

_LOG = re.compile(r"jepsen\.util\s*(?:-|:)\s+(\S+)\t:(invoke|ok|fail|info)\t(\S+)\t?(.*)$")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)[,.](\d{3})")


def parse_jepsen_log(text: str, source: str | None = None, independent: bool = False) -> list[Op]:
    """Ops from a legacy Jepsen text log.  With ``independent``, values are Jepsen's
    ``[key value]`` tuples (jepsen.independent) and are split into key and value."""
    ops: list[Op] = []
    t0: int | None = None
    # split on "\n" only: str.splitlines would also break inside strings at \x85 etc.
    for n, raw in enumerate(text.split("\n"), start=1):
        raw = raw.removesuffix("\r")
        if "jepsen.util" not in raw:
            continue
        m = _LOG.search(raw)
        if m is None:
            if re.search(r"\t:(invoke|ok|fail|info)\t", raw):
                raise HistoryError(n, "cannot read this jepsen.util op line", source)
            continue  # some other message from jepsen.util
        proc_s, typ, f_s, rest = m.groups()
        fields = rest.split("\t") if rest else []
        try:
            proc = loads(proc_s)
            f = loads(f_s)
            value = to_json(loads(fields[0])) if fields and fields[0].strip() else None
            extra = {"error": to_json(loads(fields[1]))} if len(fields) > 1 else {}
        except (EdnError, TypeError) as e:
            raise HistoryError(n, f"bad EDN in op line: {e}", source) from None
        if isinstance(proc, Keyword):
            proc = proc.name
        if not (isinstance(proc, int | str) and not isinstance(proc, bool)):
            raise HistoryError(n, f"bad process {proc_s!r}", source)
        if not isinstance(f, Keyword):
            raise HistoryError(n, f"f must be a keyword, got {f_s!r}", source)
        key = None
        if independent and not isinstance(proc, str):
            if not (isinstance(value, list) and len(value) == 2):
                raise HistoryError(n, f"expected a [key value] tuple, got {value!r}", source)
            key, value = value
        idx = len(ops)
        t = idx
        stamp = _STAMP.search(raw)
        if stamp:
            dt = datetime.fromisoformat(stamp.group(1).replace(" ", "T"))
            ns = int(dt.timestamp()) * 10**9 + int(stamp.group(2)) * 10**6
            t0 = ns if t0 is None else t0
            t = ns - t0
        ops.append(Op(idx, t, proc, typ, f.name, value, key, extra, n))
    return ops


def dumps_jepsen_log(ops: list[Op], independent: bool = False) -> str:
    out = []
    for op in ops:
        proc = f":{op.process}" if isinstance(op.process, str) else str(op.process)
        value = [op.key, op.value] if independent and op.key is not None else op.value
        line = f"INFO  jepsen.util - {proc}\t:{op.type}\t:{op.f}\t{dumps(value)}"
        if "error" in op.extra:
            line += "\t" + dumps(op.extra["error"])
        out.append(line + "\n")
    return "".join(out)


# ----------------------------------------------------------------------------- files

FORMATS = ("jsonl", "jepsen-edn", "jepsen-log")


def read_history(path: str | Path, fmt: str = "jsonl") -> list[Op]:
    """Read a history file in any supported format (raises HistoryError when unusable)."""
    from harness.history import parse_jsonl

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise HistoryError(None, f"cannot read: {e.strerror}", str(path)) from None
    if fmt == "jsonl":
        return parse_jsonl(data, str(path))
    try:
        text = data.decode()
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise HistoryError(line, "not UTF-8 text", str(path)) from None
    if fmt == "jepsen-edn":
        return parse_edn_history(text, str(path))
    if fmt == "jepsen-log":
        return parse_jepsen_log(text, str(path))
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
