"""Atoms and datums: OVSDB values, their wire JSON, update2 diffs and mutations.

Public API (stable; the monitor, storage and session code build on it):
    Atom = int | float | bool | str | uuid.UUID      (a real is always a float)
    Datum(keys, values=None)  an immutable, hashable set (values None) or map; keys are
        sorted the way OVS sorts atoms (numbers, false<true, strings by code point ==
        UTF-8 byte order, UUIDs as 128-bit numbers) and unique; values parallel keys.
        Build with Datum.set(iterable), Datum.map(pairs), Datum.atom(a), EMPTY.
        .keys .values .is_map len() iter() `in` (keys) .as_dict() .atoms() (a set's keys)
    default_datum(type)                 OVS's default for a column type.
    datum_from_json(type, j, symtab=None) -> Datum     OVS's exact errors (OvsdbError).
    datum_to_json(datum, type)          wire JSON (1-element set -> bare atom, maps
                                        always ["map", ...], reals like OVS's "%.15g").
    atom_from_json(base, j, symtab=None) / atom_to_json(atom, atomic_type)
    check_datum_constraints(datum, type)   enum/range/length checks (insert defaults).
    atom_to_string / datum_to_string    OVS's "string" syntax used inside error details.
    diff(old, new, type) -> Datum       what update2 "modify" carries for a column.
    apply_diff(old, d, type) -> Datum   its inverse (raises OvsdbError on a size error).
    mutate(dst, dst_type, mutator, arg) -> Datum   one "mutate" mutation on one column;
        mutation_arg_type(col_type, mutator) the type the argument is parsed with.
    SymbolTable  named-uuid -> UUID for one transaction (.resolve(name) creates).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from reference.data.errors import OvsdbError, syntax_error
from reference.data.types import DBL_MAX, INT64_MAX, INT64_MIN, UNLIMITED, BaseType, Type
from reference.data.uuidgen import uuid4

Atom = int | float | bool | str | uuid.UUID
ZERO_UUID = uuid.UUID(int=0)
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                      r"[0-9a-fA-F]{12}\Z")


class Datum:
    """An immutable OVSDB value; equal datums hash equal (usable as dict keys)."""

    __slots__ = ("keys", "values", "_hash")

    def __init__(self, keys: tuple = (), values: tuple | None = None):
        # Callers promise keys sorted and unique; use set()/map() otherwise.
        self.keys = keys
        self.values = values
        self._hash: int | None = None

    @classmethod
    def set(cls, atoms: Iterable[Any]) -> Datum:
        return cls(tuple(sorted(set(atoms))))

    @classmethod
    def map(cls, pairs: Iterable[tuple[Any, Any]] | dict) -> Datum:
        d = dict(pairs)
        ks = tuple(sorted(d))
        return cls(ks, tuple(d[k] for k in ks))

    @classmethod
    def atom(cls, a: Any) -> Datum:
        return cls((a,))

    @property
    def is_map(self) -> bool:
        return self.values is not None

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator:
        return iter(self.keys)

    def __contains__(self, a: Any) -> bool:
        return a in self.as_keyset()

    def as_keyset(self) -> frozenset:
        return frozenset(self.keys)

    def as_dict(self) -> dict:
        return dict(zip(self.keys, self.values or (None,) * len(self.keys), strict=True))

    def atoms(self) -> tuple:
        return self.keys

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Datum):
            return NotImplemented
        return self.keys == other.keys and self.values == other.values \
            and _same_atom_kinds(self.keys, other.keys)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.keys, self.values))
        return self._hash

    def __lt__(self, other: Datum) -> bool:
        # OVS compares datums element-wise then by size (ovsdb_datum_compare_3way).
        return _cmp3(self, other) < 0

    def __repr__(self) -> str:
        if self.values is None:
            return f"Datum.set({list(self.keys)!r})"
        return f"Datum.map({list(zip(self.keys, self.values, strict=True))!r})"


def _same_atom_kinds(a: tuple, b: tuple) -> bool:
    # True == 1 in Python; OVS values of different types are never equal, but a Datum
    # only ever holds one atomic type so this only guards the first element.
    return not a or type(a[0]) is type(b[0])


def _cmp3(a: Datum, b: Datum) -> int:
    for x, y in zip(a.keys, b.keys, strict=False):
        if x != y:
            return -1 if x < y else 1
    if a.values is not None and b.values is not None:
        for x, y in zip(a.values, b.values, strict=False):
            if x != y:
                return -1 if x < y else 1
    return (len(a) > len(b)) - (len(a) < len(b))


EMPTY = Datum()
EMPTY_MAP = Datum((), ())


# ---------------------------------------------------------------- defaults

_ATOM_DEFAULTS: dict[str, Atom] = {"integer": 0, "real": 0.0, "boolean": False,
                                   "string": "", "uuid": ZERO_UUID}


def default_atom(atomic: str) -> Atom:
    return _ATOM_DEFAULTS[atomic]


def default_datum(t: Type) -> Datum:
    if t.n_min == 0:
        return EMPTY_MAP if t.value is not None else EMPTY
    if t.value is not None:
        return Datum((default_atom(t.key.type),), (default_atom(t.value.type),))
    return Datum((default_atom(t.key.type),))


# ---------------------------------------------------------------- symbols

@dataclass
class Symbol:
    uuid: uuid.UUID
    created: bool = False
    strong_ref: bool = False
    weak_ref: bool = False


class SymbolTable:
    """named-uuid names of one transaction; an unknown name gets a fresh UUID."""

    def __init__(self, new_uuid=uuid4):
        self.symbols: dict[str, Symbol] = {}
        self._new_uuid = new_uuid

    def insert(self, name: str) -> Symbol:
        sym = self.symbols.get(name)
        if sym is None:
            sym = self.symbols[name] = Symbol(self._new_uuid())
        return sym

    def resolve(self, name: str, weak: bool = False) -> uuid.UUID:
        sym = self.insert(name)
        if weak:
            sym.weak_ref = True
        else:
            sym.strong_ref = True
        return sym.uuid


# ---------------------------------------------------------------- JSON -> atoms

def _json_type_name(kind: type) -> str:
    return {str: "string", list: "array"}[kind]


def _unwrap(j: Any, name: str, kind: type) -> Any:
    if (not isinstance(j, list) or len(j) != 2 or not isinstance(j[0], str)
            or j[0] != name or not isinstance(j[1], kind)):
        raise syntax_error(j, f'expected ["{name}", <{_json_type_name(kind)}>]')
    return j[1]


def _parse_uuid(j: Any, symtab: SymbolTable | None, base: BaseType) -> uuid.UUID:
    if isinstance(j, list) and len(j) == 2 and isinstance(j[1], str):
        if j[0] == "uuid":
            if not _UUID_RE.match(j[1]):
                raise syntax_error(j, f'"{j[1]}" is not a valid UUID')
            return uuid.UUID(j[1])
        if j[0] == "named-uuid" and symtab is not None:
            return symtab.resolve(j[1], base.is_weak_ref)
    raise syntax_error(j, 'expected ["uuid", <string>]')


def _parse_atom(base: BaseType, j: Any, symtab: SymbolTable | None) -> Atom:
    t = base.type
    if t == "integer":
        if isinstance(j, int) and not isinstance(j, bool):
            return j
        # OVS's JSON reader turns an integral number written as 1.0 or 1e2 into an
        # integer when it fits, so such numbers are integers on the OVS wire too.
        if isinstance(j, float) and j.is_integer() and INT64_MIN <= j <= INT64_MAX:
            return int(j)
    elif t == "real":
        if isinstance(j, (int, float)) and not isinstance(j, bool):
            return float(j)
    elif t == "boolean":
        if isinstance(j, bool):
            return j
    elif t == "string":
        if isinstance(j, str):
            _check_utf8(j)
            return j
    elif t == "uuid":
        return _parse_uuid(j, symtab, base)
    raise syntax_error(j, f"expected {t}")


# Second-byte ranges of well-formed UTF-8 by lead byte (Unicode table 3-7); later bytes
# are always 0x80-0xbf.
_UTF8_SECOND = {**{b: (0x80, 0xBF, 2) for b in range(0xC2, 0xE0)},
                0xE0: (0xA0, 0xBF, 3), 0xED: (0x80, 0x9F, 3),
                **{b: (0x80, 0xBF, 3) for b in (*range(0xE1, 0xED), 0xEE, 0xEF)},
                0xF0: (0x90, 0xBF, 4), 0xF4: (0x80, 0x8F, 4),
                **{b: (0x80, 0xBF, 4) for b in range(0xF1, 0xF4)}}


def _check_utf8(s: str) -> None:
    """Strings that arrived as bytes that are not UTF-8 (kept as surrogate escapes by
    the framing) fail as in ovsdb-server, naming the bad sequence as it does."""
    try:
        s.encode()
        return
    except UnicodeEncodeError:
        pass
    data = s.encode("utf-8", "surrogateescape") + b"\0"
    i = 0
    while data[i]:
        lead = data[i]
        if lead < 0x80:
            i += 1
            continue
        lo, hi, n = _UTF8_SECOND.get(lead, (1, 0, 1))
        bad = None
        if n == 1:
            bad = 0
        elif not lo <= data[i + 1] <= hi:
            bad = 1
        else:
            bad = next((k for k in range(2, n) if not 0x80 <= data[i + k] <= 0xBF), None)
        if bad is not None:
            seq = " ".join(f"0x{b:02x}" for b in data[i:i + bad + 1])
            raise OvsdbError("constraint violation",
                             f"not a valid UTF-8 string: invalid UTF-8 sequence {seq}")
        i += n


def atom_from_json(base: BaseType, j: Any, symtab: SymbolTable | None = None) -> Atom:
    a = _parse_atom(base, j, symtab)
    check_atom_constraints(a, base)
    return a


def check_atom_constraints(a: Atom, base: BaseType) -> None:
    if base.enum is not None and a not in base.enum.as_keyset():
        enum_type = Type(base.without_constraints(), None, 1, UNLIMITED)
        raise OvsdbError("constraint violation",
                         f"{atom_to_string(a, base.type)} is not one of the allowed values "
                         f"({datum_to_string(base.enum, enum_type)})")
    t = base.type
    if t == "integer":
        lo, hi = base.min_integer, base.max_integer
        if lo <= a <= hi:
            return
        if lo != INT64_MIN and hi != INT64_MAX:
            msg = f"{a} is not in the valid range {lo} to {hi} (inclusive)"
        elif lo != INT64_MIN:
            msg = f"{a} is less than minimum allowed value {lo}"
        else:
            msg = f"{a} is greater than maximum allowed value {hi}"
        raise OvsdbError("constraint violation", msg)
    if t == "real":
        lo, hi = base.min_real, base.max_real
        if lo <= a <= hi:
            return
        g = _g15
        if lo != -DBL_MAX and hi != DBL_MAX:
            msg = f"{g(a)} is not in the valid range {g(lo)} to {g(hi)} (inclusive)"
        elif lo != -DBL_MAX:
            msg = f"{g(a)} is less than minimum allowed value {g(lo)}"
        else:
            msg = f"{g(a)} is greater than maximum allowed value {g(hi)}"
        raise OvsdbError("constraint violation", msg)
    if t == "string":
        n = len(a)
        if n < base.min_length:
            raise OvsdbError("constraint violation", f'"{a}" length {n} is less than minimum '
                             f"allowed length {base.min_length}")
        if n > base.max_length:
            raise OvsdbError("constraint violation", f'"{a}" length {n} is greater than '
                             f"maximum allowed length {base.max_length}")


def check_datum_constraints(d: Datum, t: Type) -> None:
    for a in d.keys:
        check_atom_constraints(a, t.key)
    if d.values is not None and t.value is not None:
        for a in d.values:
            check_atom_constraints(a, t.value)


def datum_from_json(t: Type, j: Any, symtab: SymbolTable | None = None) -> Datum:
    if t.value is not None or (isinstance(j, list) and j and j[0] == "set"):
        cls = "map" if t.value is not None else "set"
        inner = _unwrap(j, cls, list)
        n = len(inner)
        if n < t.n_min or n > t.n_max:
            if t.n_min == 1 and t.n_max == 1:
                raise syntax_error(j, f"{cls} must have exactly one member but {n} are present")
            raise syntax_error(j, f"{cls} must have {t.n_min} to {t.n_max} members but "
                               f"{n} are present")
        if t.value is None:
            keys = [atom_from_json(t.key, e, symtab) for e in inner]
            uniq = sorted(set(keys))
            if len(uniq) != n:
                raise OvsdbError("ovsdb error", "set contains duplicate")
            return Datum(tuple(uniq))
        pairs = []
        for e in inner:
            if not isinstance(e, list) or len(e) != 2:
                raise syntax_error(e, "expected 2-element array")
            k = atom_from_json(t.key, e[0], symtab)
            pairs.append((k, atom_from_json(t.value, e[1], symtab)))
        d = dict(pairs)
        if len(d) != n:
            raise OvsdbError("ovsdb error", "map contains duplicate key")
        ks = tuple(sorted(d))
        return Datum(ks, tuple(d[k] for k in ks))
    return Datum((atom_from_json(t.key, j, symtab),))


# ---------------------------------------------------------------- atoms -> JSON

def _g15(x: float) -> str:
    return "%.15g" % x


def real_to_json(x: float) -> int | float:
    """The number OVS writes for a real ("%.15g"), as a JSON reader on the other side
    sees that text: "1" (no point, no exponent) reads back as an integer."""
    s = _g15(x)
    if "." in s or "e" in s or "n" in s:
        return float(s)
    return int(s)


def atom_to_json(a: Atom, atomic: str) -> Any:
    if atomic == "uuid":
        return ["uuid", str(a)]
    if atomic == "real":
        return real_to_json(a)  # type: ignore[arg-type]
    return a


def datum_to_json(d: Datum, t: Type) -> Any:
    kt = t.key.type
    if t.value is not None:
        vt = t.value.type
        return ["map", [[atom_to_json(k, kt), atom_to_json(v, vt)]
                        for k, v in zip(d.keys, d.values or (), strict=True)]]
    if len(d.keys) == 1:
        return atom_to_json(d.keys[0], kt)
    return ["set", [atom_to_json(k, kt) for k in d.keys]]


# ---------------------------------------------------------------- string syntax

def _string_needs_quotes(s: str) -> bool:
    if not s or not (s[0].isascii() and (s[0].isalpha() or s[0] == "_")):
        return True
    for c in s[1:]:
        if not (c.isascii() and (c.isalnum() or c in "_-.")):
            return True
    return s in ("true", "false") or bool(_UUID_RE.match(s))


def _quote(s: str) -> str:
    out = ['"']
    for c in s:
        if c == '"':
            out.append('\\"')
        elif c == "\\":
            out.append("\\\\")
        elif c in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[c])
        elif ord(c) < 0x20:
            out.append("\\u%04x" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def atom_to_string(a: Atom, atomic: str) -> str:
    if atomic == "boolean":
        return "true" if a else "false"
    if atomic == "real":
        return _g15(a)  # type: ignore[arg-type]
    if atomic == "string":
        return _quote(a) if _string_needs_quotes(a) else a  # type: ignore[arg-type]
    return str(a)


def datum_to_string(d: Datum, t: Type) -> str:
    brackets = t.n_max > 1 or not d.keys
    parts = []
    for i, k in enumerate(d.keys):
        s = atom_to_string(k, t.key.type)
        if d.values is not None and t.value is not None:
            s += "=" + atom_to_string(d.values[i], t.value.type)
        parts.append(s)
    body = ", ".join(parts)
    if not brackets:
        return body
    return ("{%s}" if t.value is not None else "[%s]") % body


# ---------------------------------------------------------------- update2 diffs

def diff(old: Datum, new: Datum, t: Type) -> Datum:
    """The update2 "modify" value of a column that changed from old to new."""
    if not t.is_composite:
        return new
    if t.value is None:
        return Datum(tuple(sorted(old.as_keyset() ^ new.as_keyset())))
    o, n = old.as_dict(), new.as_dict()
    out = {k: v for k, v in o.items() if k not in n}
    for k, v in n.items():
        if k not in o or o[k] != v:
            out[k] = v
    return Datum.map(out)


def _sym_apply(old: Datum, d: Datum, t: Type) -> Datum:
    if t.value is None:
        return Datum(tuple(sorted(old.as_keyset() ^ d.as_keyset())))
    out = old.as_dict()
    for k, v in d.as_dict().items():
        if k in out and out[k] == v:
            del out[k]
        else:
            out[k] = v
    return Datum.map(out)


def apply_diff(old: Datum, d: Datum, t: Type) -> Datum:
    """Inverse of diff(): apply_diff(old, diff(old, new, t), t) == new."""
    if not t.is_composite:
        return d
    new = _sym_apply(old, d, t)
    if not t.n_min <= len(new) <= t.n_max:
        raise OvsdbError("ovsdb error", "Datum crated by diff has size error")  # sic, OVS
    return new


# ---------------------------------------------------------------- mutations

ARITH = ("+=", "-=", "*=", "/=", "%=")
MUTATORS = (*ARITH, "insert", "delete")


def mutation_arg_type(col: Type, mutator: str) -> Type | None:
    """The type the mutation's argument is parsed with; None if not applicable."""
    if mutator in ARITH:
        if not (col.is_scalar or col.is_set) or col.key.type not in ("integer", "real") \
                or (mutator == "%=" and col.key.type == "real"):
            return None
        return Type(col.key.without_constraints(), None, 1, 1)
    if not (col.is_set or col.is_map):
        return None
    return Type(col.key, col.value, 0, UNLIMITED if mutator == "delete" else col.n_max)


def _c_div(x: int, y: int) -> int:
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def _ovs_mul_overflows(x: int, y: int) -> bool:
    """ovsdb-server 3.1's multiplication overflow test, measured against the binary: it
    reports some products that fit (2 * (2**62 - 1)) and misses some that do not
    (-(2**62) * -2), and it crashes the server on a negative value times 0 (here: no
    overflow, the product is 0)."""
    if x > 0:
        return x >= _c_div(INT64_MAX, y) if y > 0 else y < _c_div(INT64_MIN, x)
    if y > 0:
        return x < _c_div(INT64_MIN, y)
    return x != 0 and y != 0 and y < _c_div(INT64_MAX, y)


def _int_op(mutator: str, x: int, y: int) -> int:
    if mutator in ("/=", "%="):
        if y == 0:
            raise OvsdbError("domain error", "Division by zero.")
        r = _c_div(x, y) if mutator == "/=" else x - y * _c_div(x, y)
    elif mutator == "*=":
        if _ovs_mul_overflows(x, y):
            raise OvsdbError("range error", f'Result of "{mutator}" operation is out of range.')
        # OVS 3.1's check misses some overflows; the product then wraps as in C.
        return (x * y + 2**63) % 2**64 - 2**63
    else:
        r = x + y if mutator == "+=" else x - y
    if not INT64_MIN <= r <= INT64_MAX:
        raise OvsdbError("range error", f'Result of "{mutator}" operation is out of range.')
    return r


def _real_op(mutator: str, x: float, y: float) -> float:
    if mutator == "/=":
        if y == 0:
            raise OvsdbError("domain error", "Division by zero.")
        r = x / y
    else:
        r = x + y if mutator == "+=" else x - y if mutator == "-=" else x * y
    if not -DBL_MAX <= r <= DBL_MAX:
        raise OvsdbError("range error", f'Result of "{mutator}" operation is out of range.')
    return r


def _check_count(d: Datum, t: Type) -> Datum:
    if not t.n_min <= len(d) <= t.n_max:
        raise OvsdbError("constraint violation",
                         f"Attempted to store {len(d)} elements in {t.to_english()}.")
    return d


def mutate(dst: Datum, t: Type, mutator: str, arg: Datum) -> Datum:
    """Apply one mutation (argument already parsed with mutation_arg_type)."""
    if mutator in ARITH:
        y = arg.keys[0]
        op = _int_op if t.key.type == "integer" else _real_op
        out = [op(mutator, x, y) for x in dst.keys]
        for a in out:
            check_atom_constraints(a, t.key)
        uniq = sorted(set(out))
        if len(uniq) != len(out):
            raise OvsdbError("constraint violation",
                             f'Result of "{mutator}" operation contains duplicates.')
        return Datum(tuple(uniq))
    if mutator == "insert":
        if t.value is None:
            return _check_count(Datum(tuple(sorted(dst.as_keyset() | arg.as_keyset()))), t)
        m = dict(arg.as_dict())
        m.update(dst.as_dict())  # existing keys keep their values
        return _check_count(Datum.map(m), t)
    # delete: by keys (a set argument) or by key/value pairs (a map argument)
    if t.value is None:
        return _check_count(Datum(tuple(sorted(dst.as_keyset() - arg.as_keyset()))), t)
    m = dst.as_dict()
    if arg.values is None:
        for k in arg.keys:
            m.pop(k, None)
    else:
        for k, v in zip(arg.keys, arg.values, strict=True):
            if k in m and m[k] == v:
                del m[k]
    return _check_count(Datum.map(m), t)
