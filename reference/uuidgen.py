"""Random (version 4) UUIDs for rows, row versions and transactions, made cheaply.

A small commit needs two or three fresh UUIDs, and uuid.uuid4() costs a getrandom()
system call plus UUID.__init__'s argument checks each time: a measurable share of a
small transaction. Here the randomness comes from one os.urandom() call per 256 UUIDs,
and the UUID object is filled in directly from its integer (the same fields uuid.UUID
sets, so it compares, hashes and prints like any other).
"""

from __future__ import annotations

import os
import struct
import uuid

_BATCH = 256
_VERSION_4 = 0x4 << 76  # version nibble
_VARIANT = 0x2 << 62  # RFC 4122 variant bits
_CLEAR = ~((0xF << 76) | (0x3 << 62))
_SAFE = uuid.SafeUUID.unknown
_new = object.__new__
_set = object.__setattr__

_pool: list[int] = []


_HALVES = struct.Struct(f">{2 * _BATCH}Q")


def _refill() -> None:
    halves = iter(_HALVES.unpack(os.urandom(16 * _BATCH)))
    _pool.extend((((hi << 64) | lo) & _CLEAR) | _VERSION_4 | _VARIANT
                 for hi, lo in zip(halves, halves, strict=True))


def uuid4() -> uuid.UUID:
    if not _pool:
        _refill()
    u = _new(uuid.UUID)
    _set(u, "int", _pool.pop())
    _set(u, "is_safe", _SAFE)
    return u
