"""Sequential specifications the linearizability checker tests histories against.

A model is a pure, deterministic state machine over hashable states.  The checker asks
it three things: the initial state, ``prepare(op)`` (validate one paired operation and
compile it to a compact form; raise :class:`ModelError` when the op is unusable), and
``step(state, compiled) -> new state`` or :data:`INVALID` when the op cannot happen in
that state with the result it reported.

Indeterminate (``info``) ops have no known result: ``prepare`` sees ``output=None`` and
``status == "info"`` and must accept any result.  The checker lets such an op take
effect at one point after its call, or never; so ``step`` only has to say what its
effect would be.  Ops with no effect on the state (reads) that are indeterminate are
dropped before the search (:meth:`Model.no_effect`).  ``fail`` ops certainly did not
happen and never reach a model.

Every model is checked per ``key`` (P-compositionality): the checker partitions the
history by the ops' ``key`` field and runs the model on each partition from ``init``.

Encodings (``f`` / invoke value / ok value):

``register``     ``write`` v / v / - ;  ``read`` / nil / v.  Starts at nil.
``cas-register`` as register, plus ``cas`` / [old, new] / -: ok only if the value was old.
``kv``           the cas-register per ``key`` (``get``/``put`` are accepted as Jepsen's
                 names for ``read``/``write``), plus ``append`` s / s / - (string
                 concatenation; nil counts as ""), as in Porcupine's key-value model;
                 a read of "" also matches a key never written (many stores read a
                 missing key as the empty string); every op must carry a key.
``counter``      ``add`` n / n / - (n an int, may be negative); ``read`` / nil / n.  Starts at 0.
``set``          ``add`` x / x / -;  ``read`` / nil / [x, ...] (any order).  Starts empty.
``ovsdb-row``    one OVSDB row per ``key`` (the row's ``name``, unique in its table: the
                 workload's table has an index on it, so inserting an existing name fails).
                 State: absent, or the columns the workload has written.
                 Invoke values are objects:

                 - ``insert`` ``{"columns": {c: v}}``: ok only if the row was absent; it
                   then holds exactly those columns.
                 - ``update`` ``{"columns": {c: v}, "mutate": {c: n}}`` (either part may be
                   missing): sets columns, and adds n to integer columns (``mutate`` with
                   ``+=``; an unset column counts as 0).  Absent row: no effect.
                 - ``delete`` ``{}``: the row becomes absent.
                 - ``read`` ``{}``; ok value: null (absent) or ``{c: v}``, which must hold
                   every column the model knows with the same value (more columns, e.g.
                   ``_uuid`` or defaults never written, are ignored).

                 Any op's invoke value may carry ``"wait": {c: v}`` (the transaction
                 starts with an RFC 7047 ``wait`` op, ``until "=="``, on that row: the row
                 exists and has these column values) or ``"wait": null`` (the row is
                 absent).  An ok op's wait held at its linearization point; a failed wait
                 makes the transaction fail, and ``fail`` ops are dropped.
                 ``update``/``delete`` ok values may be ``{"count": n}``, the OVSDB row
                 count; when given it must be 1 if the row existed and 0 if not.
                 Values are JSON; OVSDB sets/maps are compared as the JSON the workload
                 records (record them in a canonical form, e.g. sorted).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from harness.history import Operation

INVALID: Any = object()


class ModelError(ValueError):
    """An operation the model cannot interpret (wrong f, malformed value)."""


def freeze(v: Any) -> Hashable:
    """A hashable, equality-preserving image of a JSON value."""
    if isinstance(v, list | tuple):
        return tuple(freeze(x) for x in v)
    if isinstance(v, dict):
        return frozenset((k, freeze(x)) for k, x in v.items())
    return v


def show(v: Any) -> str:
    """A short human form of a (frozen) state for reports."""
    if v is None:
        return "nil"
    if isinstance(v, frozenset):
        try:
            items = sorted(v)
        except TypeError:
            items = sorted(v, key=repr)
        if all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in items):
            return "{" + ", ".join(f"{k}: {show(x)}" for k, x in items) + "}"
        return "#{" + " ".join(show(x) for x in items) + "}"
    if isinstance(v, tuple):
        return "[" + " ".join(show(x) for x in v) + "]"
    return repr(v) if isinstance(v, str) else str(v)


class Model:
    name = "model"
    fs: tuple[str, ...] = ()
    readonly: tuple[str, ...] = ("read",)
    needs_key = False

    def init(self) -> Hashable:
        return None

    def prepare(self, op: Operation) -> Any:
        raise NotImplementedError

    def step(self, state: Any, c: Any) -> Any:
        raise NotImplementedError

    def search_init(self) -> Hashable:
        """The initial state in the representation ``transition`` works on."""
        return self.init()

    def transition(self, c: Any) -> Callable[[Any], Any]:
        """The compiled op as a function of the state alone: the search's hot path.
        Models specialise it for speed; it must agree with ``step`` (the brute-force
        tests use ``step``, the checker this)."""
        step = self.step
        return lambda s: step(s, c)

    def blind(self, c: Any) -> bool:
        """True if the compiled op always succeeds and its new state does not depend on
        the old one (a plain write): whatever was placed just before it is erased."""
        return False

    def pure(self, c: Any) -> bool:
        """True if the compiled op never changes the state: in every state it either
        leaves it as it is or is refused (a read).  The search places such an op as soon
        as it fits, without trying anything else first; a wrong True loses
        linearizations, so say True only when it holds for every state."""
        return False

    def grows(self, c: Any) -> bool:
        """True if the compiled op only moves the state forward in an order the model's
        :meth:`goal` predicates know (an append extends a string, an add grows a set)."""
        return False

    def goal(self, c: Any) -> Callable[[Any], bool] | None:
        """For a pure op (a read): a test of a state, false only if no sequence of
        growing ops (:meth:`grows`) and pure ops leads from it to a state the read
        accepts.  The search drops a configuration when a read still to be placed fails
        it and every op that is not growing and could come before the read is placed.
        None: no such test.  A wrong False loses linearizations."""
        return None

    def observers(self, i: int, compiled: list[Any], fns: list[Callable[[Any], Any]]) -> int | None:
        """A bitmask of the ops (positions in ``compiled``) whose outcome can depend on
        whether op ``i`` took effect, if that is known (None: assume all of them).
        Once every observer is placed, op ``i`` (if indeterminate) need never be.
        For a blind write: the ops that are not blind and accept the state it writes
        (any other op either rejects that state or erases it)."""
        if not self.blind(compiled[i]):
            return None
        after = fns[i](self.search_init())
        obs = 0
        for j, c in enumerate(compiled):
            if j != i and not self.blind(c) and fns[j](after) is not INVALID:
                obs |= 1 << j
        return obs

    def no_effect(self, op: Operation) -> bool:
        """An indeterminate op of this kind can be left out: it changes nothing."""
        return op.status != "ok" and op.f in self.readonly

    def check_f(self, op: Operation) -> None:
        if op.f not in self.fs:
            raise ModelError(
                f"model {self.name} has no operation {op.f!r} (it knows {', '.join(self.fs)})"
            )


# Compiled op codes: small ints compare faster than strings in the hot loop.
READ, WRITE, CAS, ADD, APPEND, READ_EMPTY = 0, 1, 2, 3, 7, 8


def _fast(c: Any) -> Callable[[Any], Any] | None:
    """Closures for the simple op kinds, so the hot loop does no dispatch."""
    k = c[0]
    if k == READ:
        seen = c[1]
        return lambda s: s if s == seen else INVALID
    if k == WRITE:
        v = c[1]
        return lambda s: v
    if k == CAS:
        old, new = c[1], c[2]
        return lambda s: new if s == old else INVALID
    return None


class Register(Model):
    name = "register"
    fs = ("read", "write")

    def prepare(self, op: Operation) -> Any:
        self.check_f(op)
        if op.f == "read":
            return (READ, freeze(op.output))
        return (WRITE, freeze(op.input))

    def step(self, state: Any, c: Any) -> Any:
        if c[0] == READ:
            return state if state == c[1] else INVALID
        return c[1]

    def transition(self, c: Any) -> Callable[[Any], Any]:
        return _fast(c) or super().transition(c)

    def blind(self, c: Any) -> bool:
        return c[0] == WRITE

    def pure(self, c: Any) -> bool:
        return c[0] == READ or c[0] == READ_EMPTY


class CasRegister(Register):
    name = "cas-register"
    fs = ("read", "write", "cas")

    def prepare(self, op: Operation) -> Any:
        if op.f != "cas":
            return super().prepare(op)
        v = op.input
        if not (isinstance(v, list | tuple) and len(v) == 2):
            raise ModelError(f"cas value must be [old, new], got {v!r}")
        return (CAS, freeze(v[0]), freeze(v[1]))

    def step(self, state: Any, c: Any) -> Any:
        k = c[0]
        if k == READ:
            return state if state == c[1] else INVALID
        if k == WRITE:
            return c[1]
        return c[2] if state == c[1] else INVALID


class KV(CasRegister):
    name = "kv"
    # get/put are Jepsen's and Knossos' names for read/write (and Porcupine's kv data)
    fs = ("read", "write", "cas", "append", "get", "put")
    readonly = ("read", "get")
    needs_key = True

    def prepare(self, op: Operation) -> Any:
        self.check_f(op)
        f = {"get": "read", "put": "write"}.get(op.f, op.f)
        if f == "read":
            if op.status == "ok" and op.output == "":
                return (READ_EMPTY,)
            return (READ, freeze(op.output))
        if f == "write":
            return (WRITE, freeze(op.input))
        if f != "append":
            return super().prepare(op)
        if not isinstance(op.input, str):
            raise ModelError(f"append value must be a string, got {op.input!r}")
        return (APPEND, op.input)

    def step(self, state: Any, c: Any) -> Any:
        k = c[0]
        if k == READ:
            return state if state == c[1] else INVALID
        if k == WRITE:
            return c[1]
        if k == APPEND:
            if state is None:
                return c[1]
            return state + c[1] if isinstance(state, str) else INVALID
        if k == READ_EMPTY:
            return state if state is None or state == "" else INVALID
        return c[2] if state == c[1] else INVALID

    def transition(self, c: Any) -> Callable[[Any], Any]:
        if c[0] == APPEND:
            tail = c[1]
            return lambda s: tail if s is None else s + tail if isinstance(s, str) else INVALID
        if c[0] == READ_EMPTY:
            return lambda s: s if s is None or s == "" else INVALID
        return super().transition(c)

    def grows(self, c: Any) -> bool:
        return c[0] == APPEND

    def goal(self, c: Any) -> Callable[[Any], bool] | None:
        # appends only extend the string: a read of v is reachable from a prefix of v
        # (from nil, appends can make any string; a non-string state never changes)
        if c[0] == READ_EMPTY:
            return lambda s: s is None or s == ""
        if c[0] != READ:
            return None
        v = c[1]
        if v is None:
            return lambda s: s is None
        if isinstance(v, str):
            return lambda s: s is None or isinstance(s, str) and v.startswith(s)
        return lambda s: s is None or s == v


class Counter(Model):
    name = "counter"
    fs = ("add", "read")

    def init(self) -> Hashable:
        return 0

    def prepare(self, op: Operation) -> Any:
        self.check_f(op)
        if op.f == "add":
            if not _is_int(op.input):
                raise ModelError(f"add value must be an integer, got {op.input!r}")
            return (ADD, op.input)
        if op.status == "ok" and not _is_int(op.output):
            raise ModelError(f"read result must be an integer, got {op.output!r}")
        return (READ, op.output)

    def step(self, state: Any, c: Any) -> Any:
        if c[0] == ADD:
            return state + c[1]
        return state if state == c[1] else INVALID

    def transition(self, c: Any) -> Callable[[Any], Any]:
        if c[0] == ADD:
            n = c[1]
            return lambda s: s + n
        return _fast(c) or super().transition(c)

    def pure(self, c: Any) -> bool:
        return c[0] == READ


class SetModel(Model):
    name = "set"
    fs = ("add", "read")

    def init(self) -> Hashable:
        return frozenset()

    def prepare(self, op: Operation) -> Any:
        self.check_f(op)
        if op.f == "add":
            return (ADD, freeze(op.input))
        if op.status == "ok" and not isinstance(op.output, list | tuple):
            raise ModelError(f"read result must be a list of elements, got {op.output!r}")
        return (READ, frozenset(freeze(x) for x in op.output or ()))

    def step(self, state: Any, c: Any) -> Any:
        if c[0] == ADD:
            return state | {c[1]}
        return state if state == c[1] else INVALID

    # The search runs on bitmasks (element -> bit, interned as transitions are made):
    # a union is one OR and a read one int comparison, where frozensets would copy
    # and compare the whole set at every step.
    def __init__(self) -> None:
        self._bits: dict[Hashable, int] = {}

    def _bit(self, x: Hashable) -> int:
        return 1 << self._bits.setdefault(x, len(self._bits))

    def search_init(self) -> Hashable:
        return 0

    def pure(self, c: Any) -> bool:
        return c[0] == READ

    def observers(self, i: int, compiled: list[Any], fns: list[Callable[[Any], Any]]) -> int | None:
        # adds commute and always succeed: only reads that contain the element can
        # tell whether it was added
        c = compiled[i]
        if c[0] != ADD:
            return None
        return sum(1 << j for j, r in enumerate(compiled) if r[0] == READ and c[1] in r[1])

    def transition(self, c: Any) -> Callable[[Any], Any]:
        if c[0] == ADD:
            one = self._bit(c[1])
            return lambda s: s | one
        want = 0
        for x in c[1]:
            want |= self._bit(x)
        return lambda s: s if s == want else INVALID


# ovsdb-row compiled form: (kind, wait, columns, mutate, expected)
#   wait: _NOWAIT, None (must be absent) or frozenset of (column, value) that must hold
#   expected: for reads the returned row (dict) / None; for update/delete the count or -1
_NOWAIT: Any = object()
INSERT, UPDATE, DELETE = 4, 5, 6
_ROW_FS = {"insert": INSERT, "update": UPDATE, "delete": DELETE, "read": READ}


class OvsdbRow(Model):
    name = "ovsdb-row"
    fs = tuple(_ROW_FS)
    needs_key = True

    def prepare(self, op: Operation) -> Any:
        self.check_f(op)
        v = op.input if op.input is not None else {}
        if not isinstance(v, dict):
            raise ModelError(f"{op.f} value must be an object, got {v!r}")
        wait = _NOWAIT
        if "wait" in v:
            w = v["wait"]
            if w is not None and not isinstance(w, dict):
                raise ModelError(f"wait must be null or an object of columns, got {w!r}")
            wait = None if w is None else frozenset((k, freeze(x)) for k, x in w.items())
        cols = v.get("columns") or {}
        mut = v.get("mutate") or {}
        if not isinstance(cols, dict) or not isinstance(mut, dict):
            raise ModelError("columns and mutate must be objects")
        if any(not _is_int(n) for n in mut.values()):
            raise ModelError(f"mutate deltas must be integers, got {mut!r}")
        kind = _ROW_FS[op.f]
        expected: Any = -1
        out = op.output if op.status == "ok" else None
        if kind == READ and op.status == "ok":
            if out is not None and not isinstance(out, dict):
                raise ModelError(f"read result must be null or an object, got {out!r}")
            expected = None if out is None else {k: freeze(x) for k, x in out.items()}
        elif kind in (UPDATE, DELETE) and isinstance(out, dict) and "count" in out:
            if out["count"] not in (0, 1):
                raise ModelError(f"count of a one-row op must be 0 or 1, got {out['count']!r}")
            expected = out["count"]
        frozen_cols = tuple(sorted((k, freeze(x)) for k, x in cols.items()))
        return (kind, wait, frozen_cols, tuple(sorted(mut.items())), expected)

    def no_effect(self, op: Operation) -> bool:
        return op.status != "ok" and op.f == "read"

    def blind(self, c: Any) -> bool:
        kind, wait, _, _, expected = c
        return kind == DELETE and wait is _NOWAIT and expected == -1

    def pure(self, c: Any) -> bool:
        return c[0] == READ

    def step(self, state: Any, c: Any) -> Any:
        kind, wait, cols, mut, expected = c
        if wait is not _NOWAIT:
            if wait is None:
                if state is not None:
                    return INVALID
            elif state is None or not wait <= state:
                return INVALID
        if kind == READ:
            if expected is None:
                return state if state is None else INVALID
            if state is None:
                return INVALID
            for col, val in state:
                if col not in expected or expected[col] != val:
                    return INVALID
            return state
        if kind == INSERT:
            return frozenset(cols) if state is None else INVALID
        if kind == DELETE:
            if expected != -1 and expected != (state is not None):
                return INVALID
            return None
        # UPDATE
        if expected != -1 and expected != (state is not None):
            return INVALID
        if state is None:
            return None
        row = dict(state)
        row.update(cols)
        for col, n in mut:
            base = row.get(col, 0)
            if not _is_int(base):
                return INVALID
            row[col] = base + n
        return frozenset(row.items())


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


MODELS: dict[str, type[Model]] = {
    m.name: m for m in (Register, CasRegister, KV, Counter, SetModel, OvsdbRow)
}


def get_model(name: str) -> Model:
    try:
        return MODELS[name]()
    except KeyError:
        raise ValueError(f"unknown model {name!r}; use one of {', '.join(MODELS)}") from None
