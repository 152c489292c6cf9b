"""Random (version 4) UUIDs for rows, row versions and transactions, made cheaply.

A small commit needs two or three fresh UUIDs, and uuid.uuid4() costs a getrandom()
system call plus UUID.__init__'s argument checks each time: a measurable share of a
small transaction. Here the randomness comes from one os.urandom() call per 256 UUIDs,
and the UUID objects are made in bulk and filled in directly (the same fields
uuid.UUID sets, so they compare, hash and print like any other).
"""

from __future__ import annotations

import os
import struct
import uuid
from collections import deque
from itertools import repeat
from operator import lshift, or_

_BATCH = 256
_SAFE = uuid.SafeUUID.unknown
_HALVES = struct.Struct(f">{2 * _BATCH}Q")
# Byte maps that set the version nibble (byte 6) and the RFC 4122 variant (byte 8).
_VERSION_4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))

_pool: list[uuid.UUID] = []


def _refill() -> None:
    # Every step maps over the whole batch in C: no Python bytecode per UUID.
    raw = bytearray(os.urandom(16 * _BATCH))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    halves = _HALVES.unpack(raw)
    ints = map(or_, map(lshift, halves[0::2], repeat(64)), halves[1::2])
    fresh = list(map(object.__new__, repeat(uuid.UUID, _BATCH)))
    deque(map(object.__setattr__, fresh, repeat("int"), ints), maxlen=0)
    deque(map(object.__setattr__, fresh, repeat("is_safe"), repeat(_SAFE, _BATCH)), maxlen=0)
    _pool.extend(fresh)


def uuid4() -> uuid.UUID:
    if not _pool:
        _refill()
    return _pool.pop()
