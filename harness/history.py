"""Histories: the operations a test performed, as Jepsen records them.

A history is a list of :class:`Op`, one per event, in the order they happened.  On disk it
is JSON lines, one object per line, with Jepsen's fields::

    {"index": 0, "time": 1200, "process": 3, "type": "invoke", "f": "write", "value": 4}
    {"index": 1, "time": 5300, "process": 3, "type": "ok", "f": "write", "value": 4, "key": "k1"}

- ``index``: position in the history (0, 1, 2, ...); the real-time order of events.
- ``time``: nanoseconds since the test started (monotonic clock).
- ``process``: an int for a client (a logical, single-threaded process), a string for
  anything else (``"nemesis"``: fault events).  As in Jepsen, a process has at most one
  operation outstanding; after an ``info`` completion the client carries on under a new
  process number, because the old operation may still take effect at any later time.
- ``type``: ``invoke`` (the call), then exactly one of ``ok`` (it happened, the value is
  the result), ``fail`` (it certainly did not happen), ``info`` (indeterminate: it may or
  may not have happened, at any point after the call).
- ``f``: the operation's name (``read``, ``write``, ``cas``, ...); ``value``: its argument
  on the invoke, its result on the completion.
- ``key`` (optional): which independent object the op touches; the checker checks each
  key on its own (P-compositionality).
- any other field is kept in :attr:`Op.extra` and written back unchanged (``error``...).

Recorders in the harness append to a :class:`Recorder`; checkers call :func:`pair` to
turn the event list into :class:`Operation` objects (call and return matched up).
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

TYPES = ("invoke", "ok", "fail", "info")
COMPLETIONS = ("ok", "fail", "info")
_FIELDS = ("index", "time", "process", "type", "f", "value", "key")


class HistoryError(ValueError):
    """Unusable input: says which line (1-based) and what is wrong with it."""

    def __init__(self, line: int | None, message: str, source: str | None = None) -> None:
        self.line = line
        self.message = message
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "history"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.message}"


@dataclass(slots=True)
class Op:
    """One event of a history (a Jepsen op map)."""

    index: int
    time: int
    process: int | str
    type: str
    f: str
    value: Any = None
    key: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Where the op came from (1-based line of the input file), for error messages only.
    line: int | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "index": self.index,
            "time": self.time,
            "process": self.process,
            "type": self.type,
            "f": self.f,
            "value": self.value,
        }
        if self.key is not None:
            d["key"] = self.key
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d

    @classmethod
    def from_dict(cls, d: Any, line: int | None = None, source: str | None = None) -> Op:
        """Build an op from a decoded map, checking every field Jepsen requires."""

        def bad(msg: str) -> HistoryError:
            return HistoryError(line, msg, source)

        if not isinstance(d, dict):
            raise bad(f"expected an object, got {type(d).__name__}")
        for name in ("index", "process", "type", "f"):
            if name not in d:
                raise bad(f"missing field {name!r}")
        index, t, process, typ, f = d["index"], d.get("time", 0), d["process"], d["type"], d["f"]
        if not _is_int(index) or index < 0:
            raise bad(f"'index' must be a non-negative integer, got {index!r}")
        if not _is_int(t):
            raise bad(f"'time' must be an integer (nanoseconds), got {t!r}")
        if not (_is_int(process) or isinstance(process, str)):
            raise bad(f"'process' must be an integer or a string, got {process!r}")
        if typ not in TYPES:
            raise bad(f"'type' must be one of {', '.join(TYPES)}, got {typ!r}")
        if not isinstance(f, str):
            raise bad(f"'f' must be a string, got {f!r}")
        extra = {k: v for k, v in d.items() if k not in _FIELDS}
        return cls(index, t, process, typ, f, d.get("value"), d.get("key"), extra, line)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


# ----------------------------------------------------------------------------- JSON lines


def dumps_jsonl(ops: Iterable[Op]) -> bytes:
    return b"".join(orjson.dumps(op.to_dict()) + b"\n" for op in ops)


def write_jsonl(ops: Iterable[Op], path: str | Path) -> None:
    Path(path).write_bytes(dumps_jsonl(ops))


def parse_jsonl(data: str | bytes, source: str | None = None) -> list[Op]:
    """Parse a JSON-lines history.  Blank lines are skipped; anything else must be an op."""
    if isinstance(data, str):
        data = data.encode()
    ops = []
    for n, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            d = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise HistoryError(n, f"not valid JSON ({e})", source) from None
        ops.append(Op.from_dict(d, n, source))
    check_order(ops, source)
    return ops


def read_jsonl(path: str | Path) -> list[Op]:
    return parse_jsonl(Path(path).read_bytes(), str(path))


def check_order(ops: list[Op], source: str | None = None) -> None:
    """Indexes must strictly increase: the checker takes them as the real-time order."""
    for prev, op in zip(ops, ops[1:], strict=False):
        if op.index <= prev.index:
            raise HistoryError(
                op.line, f"index {op.index} does not follow index {prev.index}", source
            )


# ----------------------------------------------------------------------------- pairing


@dataclass(slots=True)
class Operation:
    """An invocation together with its completion: what a linearizability checker sees.

    ``status`` is the completion type: ``ok``, ``fail`` or ``info`` (also for an invoke
    that never completed, which is just as indeterminate).  ``output`` is the completion's
    value for ``ok`` ops and None otherwise.  ``return_index``/``return_time`` are None
    when the op never returned definitively (``info``/no completion): it may take effect
    at any time after its call, or never.
    """

    id: int
    process: int | str
    f: str
    key: Any
    input: Any
    output: Any
    status: str
    call_index: int
    return_index: int | None
    call_time: int
    return_time: int | None
    invoke: Op
    complete: Op | None

    @property
    def line(self) -> int | None:
        return self.invoke.line


def pair(
    ops: Iterable[Op],
    source: str | None = None,
    client: Callable[[int | str], bool] = lambda p: not isinstance(p, str),
) -> list[Operation]:
    """Match each invoke with its process's next completion.

    Only processes for which ``client`` is true are paired (by default the integer
    ones; ``"nemesis"`` events are skipped).  Unusable input raises HistoryError: a
    completion with no pending invoke, a second invoke while one is pending, or a
    completion whose ``f`` differs from its invoke's.
    """
    out: list[Operation] = []
    pending: dict[int | str, Operation] = {}
    for op in ops:
        if not client(op.process):
            continue
        if op.type == "invoke":
            if op.process in pending:
                first = pending[op.process].invoke
                raise HistoryError(
                    op.line,
                    f"process {op.process} invokes {op.f!r} while its {first.f!r} "
                    f"(index {first.index}) has not completed; after an 'info' a process "
                    "must continue under a new number",
                    source,
                )
            o = Operation(
                len(out), op.process, op.f, op.key, op.value, None, "info",
                op.index, None, op.time, None, op, None,
            )
            out.append(o)
            pending[op.process] = o
            continue
        o = pending.pop(op.process, None)
        if o is None:
            raise HistoryError(
                op.line, f"{op.type!r} completion for process {op.process} with no invoke", source
            )
        if op.f != o.f:
            raise HistoryError(
                op.line, f"completion f {op.f!r} does not match its invoke's f {o.f!r}", source
            )
        if op.key is not None and o.key is not None and op.key != o.key:
            raise HistoryError(
                op.line, f"completion key {op.key!r} does not match invoke key {o.key!r}", source
            )
        o.complete = op
        o.status = op.type
        if o.key is None:
            o.key = op.key
        if op.type != "info":
            o.return_index = op.index
            o.return_time = op.time
        if op.type == "ok":
            o.output = op.value
    return out


# ----------------------------------------------------------------------------- recording

_SAME: Any = object()


class Recorder:
    """Append-only history that the harness's clients write to while a test runs.

    Not thread-safe: meant for one asyncio loop.  If ``out`` is given (a path or a binary
    file), each op is also written there as a JSON line at once, so a crashed run still
    leaves its history behind.
    """

    def __init__(
        self,
        out: str | Path | IO[bytes] | None = None,
        clock: Callable[[], int] = _time.monotonic_ns,
    ) -> None:
        self.ops: list[Op] = []
        self._clock = clock
        self._t0 = clock()
        self._pending: dict[int | str, Op] = {}
        self._own = isinstance(out, str | Path)
        self._out: IO[bytes] | None = open(out, "wb") if isinstance(out, str | Path) else out

    def _append(self, process: int | str, typ: str, f: str, value: Any, key: Any,
                extra: dict[str, Any]) -> Op:
        op = Op(len(self.ops), self._clock() - self._t0, process, typ, f, value, key, extra)
        self.ops.append(op)
        if self._out is not None:
            self._out.write(orjson.dumps(op.to_dict()) + b"\n")
        return op

    def invoke(self, process: int, f: str, value: Any = None, key: Any = None, **extra: Any) -> Op:
        if process in self._pending:
            raise ValueError(f"process {process} already has an operation in flight")
        op = self._append(process, "invoke", f, value, key, extra)
        self._pending[process] = op
        return op

    def complete(self, process: int, typ: str, value: Any = _SAME, **extra: Any) -> Op:
        """Record the completion of ``process``'s pending op; ``value`` defaults to the
        invoke's value (Jepsen's habit for writes)."""
        if typ not in COMPLETIONS:
            raise ValueError(f"completion type must be one of {COMPLETIONS}, got {typ!r}")
        inv = self._pending.pop(process, None)
        if inv is None:
            raise ValueError(f"process {process} has no operation in flight to complete")
        v = inv.value if value is _SAME else value
        return self._append(process, typ, inv.f, v, inv.key, extra)

    def ok(self, process: int, value: Any = _SAME, **extra: Any) -> Op:
        return self.complete(process, "ok", value, **extra)

    def fail(self, process: int, value: Any = _SAME, **extra: Any) -> Op:
        return self.complete(process, "fail", value, **extra)

    def info(self, process: int, value: Any = _SAME, **extra: Any) -> Op:
        return self.complete(process, "info", value, **extra)

    def event(self, f: str, value: Any = None, process: str = "nemesis", **extra: Any) -> Op:
        """A fault or other event that is not a client operation (an ``info`` op)."""
        return self._append(process, "info", f, value, None, extra)

    def pending(self) -> dict[int | str, Op]:
        return dict(self._pending)

    def flush(self) -> None:
        if self._out is not None:
            self._out.flush()

    def close(self) -> None:
        if self._out is not None:
            self._out.flush()
            if self._own:
                self._out.close()
            self._out = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)
