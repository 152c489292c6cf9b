"""Column types (RFC 7047 section 3.2 <type> and <base-type>) as values: BaseType and
Type, their constraints and OVS's limits.  Reading and writing them as JSON is the
schema's job (reference.data.schema); values of these types are reference.data.datum.

    Type.key (BaseType)/.value (BaseType | None)/.n_min/.n_max (UNLIMITED = 2**32-1,
        as OVS stores "unlimited"); .is_map/.is_set/.is_scalar/.is_optional
        /.is_composite (n_max > 1: update2 diffs are set-like)/.to_english()
    BaseType.type ("integer"|"real"|"boolean"|"string"|"uuid")/.enum (Datum | None)
        /.min_integer/.max_integer/.min_real/.max_real/.min_length/.max_length
        /.ref_table (str | None)/.ref_type ("strong"|"weak")/.is_strong_ref/.is_weak_ref
    Type.scalar(atomic) and BaseType(atomic) build unconstrained types.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reference.data.datum import Datum

ATOMIC_TYPES = ("integer", "real", "boolean", "string", "uuid")
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
DBL_MAX = sys.float_info.max
UINT_MAX = 2**32 - 1
UNLIMITED = UINT_MAX  # OVS keeps "unlimited" as UINT_MAX and prints it that way


@dataclass(frozen=True, slots=True)
class BaseType:
    type: str
    enum: Datum | None = None
    min_integer: int = INT64_MIN
    max_integer: int = INT64_MAX
    min_real: float = -DBL_MAX
    max_real: float = DBL_MAX
    min_length: int = 0
    max_length: int = UINT_MAX
    ref_table: str | None = None
    ref_type: str = "strong"

    @property
    def is_strong_ref(self) -> bool:
        return self.ref_table is not None and self.ref_type == "strong"

    @property
    def is_weak_ref(self) -> bool:
        return self.ref_table is not None and self.ref_type == "weak"

    def has_constraints(self) -> bool:
        return (self.enum is not None or self.min_integer != INT64_MIN
                or self.max_integer != INT64_MAX or self.min_real != -DBL_MAX
                or self.max_real != DBL_MAX or self.min_length != 0
                or self.max_length != UINT_MAX or self.ref_table is not None)

    def without_constraints(self) -> BaseType:
        return BaseType(self.type)

@dataclass(frozen=True, slots=True)
class Type:
    key: BaseType
    value: BaseType | None = None
    n_min: int = 1
    n_max: int = 1

    @classmethod
    def scalar(cls, atomic: str) -> Type:
        return cls(BaseType(atomic))

    @property
    def is_map(self) -> bool:
        return self.value is not None

    @property
    def is_set(self) -> bool:
        # OVS: a 0..1 column is a set too (ovsdb_type_is_set).
        return self.value is None and (self.n_min != 1 or self.n_max != 1)

    @property
    def is_scalar(self) -> bool:
        return self.value is None and self.n_min == 1 and self.n_max == 1

    @property
    def is_optional(self) -> bool:
        return self.n_min == 0 and self.n_max == 1

    @property
    def is_composite(self) -> bool:
        return self.n_max > 1

    def to_english(self) -> str:
        """OVS's ovsdb_type_to_english(), used in mutation error details."""
        if self.is_scalar:
            return self.key.type
        s = "set" if self.is_set else "map"
        if self.n_max == UNLIMITED:
            s += f" of {self.n_min} or more" if self.n_min else " of"
        elif self.n_min:
            s += f" of {self.n_min} to {self.n_max}"
        else:
            s += f" of up to {self.n_max}"
        if self.is_set:
            return f"{s} {self.key.type}s"
        assert self.value is not None
        return f"{s} ({self.key.type}, {self.value.type}) pairs"

UUID_TYPE = Type(BaseType("uuid"))
