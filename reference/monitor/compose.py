"""Row updates in the exact encodings of ovsdb-server 3.1, and the decision of what (if
anything) one row change means for one monitor condition.

Encodings (``update`` is RFC 7047's v1, ``update2`` is shared by update2 and update3):

- update2: ``{"initial"|"insert": row}`` with columns at their default omitted,
  ``{"modify": diff}`` with only the changed monitored columns (datum.diff), and
  ``{"delete": null}``.
- update: ``{"new": row}`` for initial/insert (every selected column, defaults
  included), ``{"old": row}`` for delete, ``{"old": changed columns' old values, "new":
  every column's new value}`` for modify.

Classification (ovsdb_monitor_row_update_type_condition + _changes_classify in OVS):
a row change is an insert, delete or modify by whether old/new exist; under a condition a
modify whose old row does not match becomes an insert, one whose new row does not match
becomes a delete, and one matching neither is dropped (likewise inserts/deletes of
non-matching rows).  A modify is dropped when it changes no monitored column, and any
type the table's select flags exclude is dropped; a change to a column only the
condition reads counts as a change (OVS tracks condition columns with the monitored
ones) and sends an empty modify.  With several requests for one table
(per-column select flags) a modify is still sent when only columns not selected for
modify changed, with those columns left out (possibly ``{"modify": {}}``), as OVS does.
"""

from __future__ import annotations

from typing import Any

from reference.data.ovs_hash import ovs_order
from reference.monitor.request import DELETE, INITIAL, INSERT, MODIFY, TableSpec
from reference.monitor.rows import cell, cell_json, diff_json, is_default, uuid_str
from reference.monitor.wire_order import order_row

ENC_V1 = "update"
ENC_V2 = "update2"


def base_type(old: Any, new: Any) -> int:
    if old is None:
        return INSERT if new is not None else 0
    return DELETE if new is None else MODIFY


def changed_columns(spec: TableSpec, old: Any, new: Any) -> tuple[str, ...]:
    """Monitored columns whose value differs (whatever their select flags: OVS decides
    whether a modify is worth sending on all monitored columns)."""
    return tuple(c for c in spec.columns if cell(old, c) != cell(new, c))


def classify(spec: TableSpec, base: int, old_match: bool, new_match: bool,
             changed: tuple[str, ...] | None, cond_changed: bool = False) -> int:
    """The update type to send for this condition, or 0 for nothing.  ``cond_changed``:
    a column the condition reads (but the monitor may not) changed."""
    if base == MODIFY:
        if old_match:
            kind = MODIFY if new_match else DELETE
        else:
            kind = INSERT if new_match else 0
    elif base == INSERT or base == INITIAL:
        kind = base if new_match else 0
    elif base == DELETE:
        kind = DELETE if old_match else 0
    else:
        kind = 0
    if kind == MODIFY and not changed and not cond_changed:
        return 0
    return kind if spec.select & kind else 0


def row_update(encoding: str, spec: TableSpec, ttypes: dict[str, Any], kind: int,
               old: Any, new: Any, changed: tuple[str, ...] | None,
               ucols: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object for one row in an update/update2 ``<table-update>``; columns in
    ovsdb-server's member order (``ucols``: the table's user columns, schema order)."""
    if encoding == ENC_V2:
        if kind == DELETE:
            return {"delete": None}
        if kind == MODIFY:
            # Columns not selected for modify stay out of the diff, but (as in OVS) a
            # change to them still sends the, then possibly empty, modify.
            selected = spec.columns_for(MODIFY)
            return {"modify": order_row(ucols, {
                c: diff_json(cell(old, c), cell(new, c), ttypes[c])
                for c in changed or () if c in selected})}
        body = {}
        for c in spec.columns_for(kind):
            d = cell(new, c)
            if not is_default(d, ttypes[c]):
                body[c] = cell_json(d, ttypes[c])
        return {"initial" if kind == INITIAL else "insert": order_row(ucols, body)}
    # v1 "update"
    if kind == DELETE:
        return {"old": order_row(ucols, {c: cell_json(cell(old, c), ttypes[c])
                                         for c in spec.columns_for(DELETE)})}
    out: dict[str, Any] = {}
    if kind == MODIFY:
        selected = spec.columns_for(MODIFY)
        out["old"] = order_row(ucols, {c: cell_json(cell(old, c), ttypes[c])
                                       for c in changed or () if c in selected})
    out["new"] = order_row(ucols, {c: cell_json(cell(new, c), ttypes[c])
                                   for c in spec.columns_for(kind)})
    if len(out) == 2:
        out = {k: out[k] for k in _OLD_NEW}
    return out


_OLD_NEW = tuple(ovs_order(["old", "new"]))


def compose_pairs(encoding: str, spec: TableSpec, ttypes: dict[str, Any], cond: Any,
                  pairs: dict[Any, list], initial: bool = False,
                  ucols: tuple[str, ...] = (),
                  tracked: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Compose one ``<table-update>`` from merged (old, new) pairs under ``cond`` (a
    MonitorCondition); used for resumes from history and for releasing a stuck session."""
    out: dict[str, Any] = {}
    for row_uuid, (old, new) in pairs.items():
        base = base_type(old, new)
        if not base:
            continue
        if initial and base == INSERT:
            base = INITIAL
        om = old is not None and cond.match(old)
        nm = new is not None and cond.match(new)
        changed = changed_columns(spec, old, new) if base == MODIFY and om and nm else None
        cc = changed == () and any(cell(old, c) != cell(new, c) for c in
                                   (cond.columns if tracked is None else tracked))
        kind = classify(spec, base, om, nm, changed, cc)
        if kind:
            out[uuid_str(row_uuid)] = row_update(encoding, spec, ttypes, kind, old, new,
                                                 changed, ucols)
    return out
