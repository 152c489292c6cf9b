"""The order in which Open vSwitch iterates a JSON object (an `shash`).

ovsdb-server walks the members of a request's JSON objects (the "row" of an insert or
update, for instance) in hash-table order, and when several members are wrong the
first one met is the error it reports. To give the same error we reproduce that order:
OVS's hash_string() (a Murmur3-style hash_bytes with basis 0) and its hmap, which
pushes each node on the front of its bucket's list, grows when n / 2 > mask and
rehashes bucket by bucket.

    ovs_order(keys) -> list of keys in the order OVS iterates an object whose members
                       were inserted in that order (the order they came on the wire).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

_M32 = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _M32


def _mhash_add(h: int, data: int) -> int:
    if data:
        data = (data * 0xCC9E2D51) & _M32
        data = _rot(data, 15)
        data = (data * 0x1B873593) & _M32
        h ^= data
    h = _rot(h, 13)
    return (h * 5 + 0xE6546B64) & _M32


def _mhash_finish(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


@lru_cache(maxsize=4096)
def hash_string(s: str, basis: int = 0) -> int:
    b = s.encode()
    h = basis
    n = len(b)
    i = 0
    while n - i >= 4:
        h = _mhash_add(h, int.from_bytes(b[i:i + 4], "little"))
        i += 4
    if i < n:
        h = _mhash_add(h, int.from_bytes(b[i:], "little"))
    return _mhash_finish(h ^ n)


def _calc_mask(capacity: int) -> int:
    mask = capacity // 2
    mask |= mask >> 1
    mask |= mask >> 2
    mask |= mask >> 4
    mask |= mask >> 8
    mask |= mask >> 16
    mask |= mask >> 32
    mask |= (mask & 1) << 1
    return mask


class OvsHmap:
    """Keys in an OVS hmap: their iteration order, and next_of() for the iterator
    that tolerates inserts while it runs (HMAP_FOR_EACH_SAFE)."""

    __slots__ = ("buckets", "mask", "n", "hashes")

    def __init__(self) -> None:
        self.buckets: list[list] = [[]]  # each chain head first
        self.mask = 0
        self.n = 0
        self.hashes: dict = {}

    def copy(self) -> OvsHmap:
        h = OvsHmap()
        h.buckets = [list(b) for b in self.buckets]
        h.mask, h.n, h.hashes = self.mask, self.n, dict(self.hashes)
        return h

    def insert(self, key, h: int) -> None:
        self.hashes[key] = h
        self.buckets[h & self.mask].insert(0, key)
        self.n += 1
        if self.n // 2 > self.mask:
            new_mask = _calc_mask(self.n)
            if new_mask > self.mask:
                nb: list[list] = [[] for _ in range(new_mask + 1)]
                for b in self.buckets:
                    for k in b:
                        nb[self.hashes[k] & new_mask].insert(0, k)
                self.buckets, self.mask = nb, new_mask

    def remove(self, key) -> None:
        h = self.hashes.pop(key)
        self.buckets[h & self.mask].remove(key)
        self.n -= 1

    def __contains__(self, key) -> bool:
        return key in self.hashes

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for b in self.buckets:
            yield from b

    def first(self):
        for b in self.buckets:
            if b:
                return b[0]
        return None

    def next_of(self, key):
        i = self.hashes[key] & self.mask
        chain = self.buckets[i]
        j = chain.index(key)
        if j + 1 < len(chain):
            return chain[j + 1]
        buckets = self.buckets
        for k in range(i + 1, len(buckets)):
            if buckets[k]:
                return buckets[k][0]
        return None


def uuid_hash(u) -> int:
    """OVS hashes a UUID by its first 32 bits."""
    return u.int >> 96


def ovs_order(keys: Iterable[str]) -> list[str]:
    keys = tuple(keys)
    if len(keys) < 2:
        return list(keys)  # nothing to order: skip hashing (row UUIDs are rarely repeated)
    if len(keys) <= _CACHED_UP_TO:
        return list(_ordered_cached(keys))
    return list(_ordered(keys))


# Requests repeat the same few member names (a row's columns, an op's members), so the
# order of a given sequence of names is worked out once; long key lists (the rows of a
# snapshot) are not kept.
_CACHED_UP_TO = 64


def _ordered(keys: tuple[str, ...]) -> tuple[str, ...]:
    h = OvsHmap()
    for k in keys:
        h.insert(k, hash_string(k))
    return tuple(h)


_ordered_cached = lru_cache(maxsize=1024)(_ordered)
