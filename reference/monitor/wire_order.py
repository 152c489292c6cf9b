"""The member order of ovsdb-server 3.1's monitor JSON, so our bytes can equal its bytes.

Read off the real server: an update2/update3 for a monitor whose conditions are all
true is serialised once for every client with sorted members (OVS caches it as a
pre-serialised object); a conditional update2/update3 and every v1 update are serialised
per session in hash-table order, i.e. the order OVS's shash iterates members inserted
in composition order (reference.data.ovs_hash reproduces that hmap).  Composition inserts a
row's columns in column-index order (_uuid, _version, then the user columns in the order
OVS's schema parser iterated them) and rows in the order its row hmaps (keyed by the
UUID's first 32 bits) iterate them.

Clients compare parsed JSON, so this only matters to byte-for-byte comparisons; it is
kept apart from the composer so the composer reads as monitor logic.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import orjson

from reference.data.ovs_hash import OvsHmap, ovs_order, uuid_hash


@lru_cache(maxsize=256)
def _index_order(user_columns: tuple[str, ...]) -> dict[str, int]:
    order = ["_uuid", "_version", *ovs_order(user_columns)]
    return {c: i for i, c in enumerate(order)}


@lru_cache(maxsize=4096)
def column_order(user_columns: tuple[str, ...], present: tuple[str, ...]) -> tuple[str, ...]:
    """The order OVS writes the ``present`` columns of a row object."""
    idx = _index_order(user_columns)
    return tuple(ovs_order(sorted(present, key=lambda c: idx.get(c, 1 << 30))))


def order_row(user_columns: tuple[str, ...], body: dict[str, Any]) -> dict[str, Any]:
    if len(body) < 2:
        return body
    return {c: body[c] for c in column_order(user_columns, tuple(body))}


def row_insertion_order(uuids: Iterable[Any]) -> list[Any]:
    """UUIDs in the order an OVS row hmap filled in this order iterates them."""
    h = OvsHmap()
    for u in uuids:
        h.insert(u, uuid_hash(u))
    return list(h)


def order_table(rows: dict[str, Any], insertion: list[str] | None = None) -> dict[str, Any]:
    keys = insertion if insertion is not None else list(rows)
    if len(keys) < 2:
        return rows
    return {k: rows[k] for k in ovs_order(keys)}


def dumps(updates: dict[str, dict], sorted_members: bool,
          row_orders: dict[str, list[str]] | None = None) -> bytes:
    """Serialise <table-updates> the way ovsdb-server would for this monitor."""
    if sorted_members:
        return orjson.dumps(updates, option=orjson.OPT_SORT_KEYS)
    out = {}
    for t in ovs_order(ovs_order(list(updates))):
        rows = updates[t]
        ins = (row_orders or {}).get(t)
        if ins is not None:
            ins = [k for k in ins if k in rows]
        out[t] = order_table(rows, ins)
    return orjson.dumps(out)
