"""OVSDB errors as ovsdb-server 3.1 reports them.

Public API:
    OvsdbError(error, details=None, syntax=None)  exception; .error is the RFC 7047 tag
        ("syntax error", "constraint violation", ...), .details the human text, .syntax
        the offending JSON text (OVS adds it for syntax errors; an RFC 7047 extension).
    err.to_json() -> {"error": ..., "details": ..., "syntax": ...} with absent parts
        omitted, exactly the object ovsdb-server puts in a transact reply slot.
    syntax_error(json_value, details, tag="syntax error") builds an error whose
        "syntax" is json_value serialised the way OVS does (compact, sorted keys).

The tags ovsdb-server 3.1 uses in transact replies: "syntax error", "unknown column",
"constraint violation", "referential integrity violation", "domain error",
"range error", "timed out", "not owner", "aborted", "duplicate uuid-name",
"duplicate uuid", "not allowed", "unknown mutator", "unknown function", and
"ovsdb error" (OVS's tag for errors created without one, e.g. "set contains duplicate").
json_text(value) is OVS's compact, key-sorted JSON text (used for "syntax").
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class OvsdbError(Exception):
    """An error with an RFC 7047 tag, optional details and optional offending JSON."""

    def __init__(self, error: str, details: str | None = None, syntax: str | None = None):
        super().__init__(f"{error}: {details}" if details else error)
        self.error = error
        self.details = details
        self.syntax = syntax

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.error}
        if self.details is not None:
            out["details"] = self.details
        if self.syntax is not None:
            out["syntax"] = self.syntax
        return out

    def __repr__(self) -> str:
        return f"OvsdbError({self.error!r}, {self.details!r}, syntax={self.syntax!r})"


def json_text(value: Any) -> str:
    """Serialise like OVS's json_to_string(JSSF_SORT): compact, keys sorted, and
    numbers as OVS holds them (an integral number is an integer; a real is written
    with "%.15g")."""
    return "".join(_emit(value, []))


def _emit(v: Any, out: list[str]) -> list[str]:
    if isinstance(v, dict):
        out.append("{")
        for i, k in enumerate(sorted(v)):
            if i:
                out.append(",")
            out.append(_string_text(str(k)))
            out.append(":")
            _emit(v[k], out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _emit(x, out)
        out.append("]")
    elif isinstance(v, float) and not isinstance(v, bool):
        if v.is_integer() and -(2**63) <= v < 2**63:
            out.append(str(int(v)))
        else:
            out.append("%.15g" % v)
    elif isinstance(v, str):
        out.append(_string_text(v))
    else:
        try:
            out.append(orjson.dumps(v).decode())
        except TypeError:
            out.append(_string_text(str(v)))
    return out


def _string_text(s: str) -> str:
    """A JSON string; one holding bytes that were not UTF-8 (surrogate escapes) is
    written by the standard library, and goes back out as those same bytes."""
    try:
        return orjson.dumps(s).decode()
    except TypeError:
        return json.dumps(s, ensure_ascii=False)


def syntax_error(value: Any, details: str, tag: str = "syntax error") -> OvsdbError:
    """OVS's ovsdb_syntax_error(json, tag, ...): the offending JSON rides along."""
    return OvsdbError(tag, details, json_text(value))
