"""Sets of small non-negative integers (operation ids) as Python ints.

The checker's memo is keyed by (set of linearized ops, model state).  A Python int is
the natural bitset for that: immutable and hashable (so it goes into the memo as it is),
with set/clear in one C-level operation.  These helpers name the operations so the
search reads like the paper; the hot loop inlines them.
"""

from __future__ import annotations

from collections.abc import Iterator

EMPTY = 0


def add(bits: int, i: int) -> int:
    return bits | (1 << i)


def remove(bits: int, i: int) -> int:
    return bits & ~(1 << i)


def contains(bits: int, i: int) -> bool:
    return (bits >> i) & 1 == 1


def count(bits: int) -> int:
    return bits.bit_count()


def members(bits: int) -> Iterator[int]:
    """The members in increasing order."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def from_iter(ids: list[int] | tuple[int, ...] | set[int]) -> int:
    bits = 0
    for i in ids:
        bits |= 1 << i
    return bits
