"""MonitorEngine: every monitor of one database, composed once per group and condition.

Structure (see __init__.py for the API):

    Group       sessions with the same encoding (update | update2/3) and the same
                per-table (columns, select flags): OVS's ovsdb_monitor.
    CondGroup   within a group, members with the same normalised condition: each
                transaction is composed and serialised once per CondGroup and the same
                bytes go to all its members (one Delivery per distinct monitor id).
    Member      one (session, monitor id): its kind and, while its session is
                backlogged, its pending merged changes.

Each Group keeps, per table, a ConditionIndex over its CondGroups, so a row change only
costs work for the conditions that can match the row's old or new version.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from reference.data.condition import MonitorCondition, parse_monitor_condition
from reference.data.errors import syntax_error
from reference.data.uuidgen import uuid4
from reference.monitor import wire_order
from reference.monitor.compose import (
    ENC_V1,
    ENC_V2,
    base_type,
    changed_columns,
    classify,
    compose_pairs,
    row_update,
)
from reference.monitor.condition_index import ConditionIndex
from reference.monitor.history import History, Merged
from reference.monitor.request import (
    DELETE,
    INITIAL,
    INSERT,
    KINDS,
    MODIFY,
    MonitorSpec,
    TableSpec,
    parse_change_requests,
    parse_requests,
    parse_txn_id,
)
from reference.monitor.row_index import RowIndex
from reference.monitor.rows import (
    cell,
    n_atoms,
    table_map,
    table_order_of,
    table_rows,
    uuid_str,
)

_METHOD = {"monitor": b"update", "monitor_cond": b"update2", "monitor_cond_since": b"update3"}


class Delivery(NamedTuple):
    """Send ``data`` (one complete JSON-RPC notification) to each of ``sessions``."""

    sessions: tuple
    data: bytes


def envelope(kind: str, mid: bytes, body: bytes, last_txn_id: str) -> bytes:
    """The notification for one monitor id, spliced around the shared ``body`` bytes
    (the serialised <table-updates>), so the body is serialised only once."""
    head = b'{"id":null,"method":"' + _METHOD[kind] + b'","params":[' + mid + b","
    if kind == "monitor_cond_since":
        head += b'"' + last_txn_id.encode() + b'",'
    return head + body + b"]}"


@dataclass(eq=False)
class Member:
    session: Any
    monitor_id: Any
    mid: bytes                      # the monitor id as it goes on the wire
    kind: str
    cg: CondGroup
    pending: Merged | None = None   # not None while the session is backlogged


@dataclass(eq=False)
class CondGroup:
    group: Group
    key: tuple                      # (condition keys, tracked columns), per table
    conds: dict[str, MonitorCondition]
    # Columns whose change alone sends an (empty) modify: those of every condition the
    # members have had, as OVS adds condition columns to a monitor and never removes them.
    tracked: dict[str, tuple[str, ...]]
    members: dict[tuple[Any, bytes], Member] = field(default_factory=dict)
    snapshot: tuple[tuple, bytes] | None = None
    # live members by envelope (kind, wire id) -> sessions; rebuilt on membership change
    live: dict[tuple[str, bytes], list] = field(default_factory=dict)
    held: list[Member] = field(default_factory=list)

    @property
    def all_true(self) -> bool:
        """OVS serialises updates of such monitors once, with sorted members."""
        return all(c.always for c in self.conds.values())

    def rebuild(self) -> None:
        self.live = {}
        self.held = []
        for m in self.members.values():
            if m.pending is None:
                self.live.setdefault((m.kind, m.mid), []).append(m.session)
            else:
                self.held.append(m)


@dataclass(eq=False)
class Group:
    key: tuple
    encoding: str
    tables: dict[str, TableSpec]
    cgroups: dict[tuple, CondGroup] = field(default_factory=dict)
    index: dict[str, ConditionIndex] = field(default_factory=dict)
    change_cache: dict[tuple, bytes] = field(default_factory=dict)


def _id_key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


class MonitorEngine:
    def __init__(self, schema: Any, db_getter: Callable[[], Any],
                 history_max_txns: int = 100, history_max_atoms: int | None = None,
                 trace: Callable[[dict], None] | None = None) -> None:
        self.schema = schema
        self._db = db_getter
        self.history = History(history_max_txns, history_max_atoms)
        self.trace = trace
        self._groups: dict[tuple, Group] = {}
        self._members: dict[tuple[Any, bytes], Member] = {}
        self._sessions: dict[Any, dict[bytes, Member]] = {}
        self._backlogged: set = set()
        self._window: dict[Any, None] = {}  # sessions a merge window holds, in order
        self._tver: dict[str, int] = {}      # per-table commit counters (snapshot keys)
        self._db_atoms: int | None = None    # maintained incrementally once counted
        self._row_index = RowIndex()
        self._ucols = {t: tuple(c for c in ts.columns if c not in ("_uuid", "_version"))
                       for t, ts in schema.tables.items()}
        self._types = {t: {c: cs.type for c, cs in ts.columns.items()}
                       for t, ts in schema.tables.items()}

    # -- public API ---------------------------------------------------------------------

    @property
    def last_txn_id(self) -> uuid.UUID:
        return self.history.reported_id()

    def add(self, session: Any, monitor_id: Any, kind: str, requests: Any,
            last_txn_id: Any = None) -> Any:
        if kind not in KINDS:
            raise ValueError(f"not a monitor method: {kind}")
        mkey = _id_key(monitor_id)
        if (session, mkey) in self._members:
            raise syntax_error(monitor_id, "duplicate monitor ID")
        spec = parse_requests(self.schema, kind, requests)
        conds = {t.name: self._parse_cond(t.name, spec.where[t.name]) for t in spec.tables}
        since = None
        if kind == "monitor_cond_since" and last_txn_id is not None:
            since = parse_txn_id(last_txn_id)
        group = self._group_for(spec, ENC_V1 if kind == "monitor" else ENC_V2)
        cg = self._cgroup_for(group, conds)
        # Build the reply before joining: a new member must not change the snapshot.
        merged = self.history.since(since) if since is not None else None
        if merged is not None:
            body = self._compose_merged(cg, merged)
        else:
            body = self._snapshot(cg)
        member = Member(session, monitor_id, orjson.dumps(monitor_id), kind, cg)
        if session in self._backlogged or session in self._window:
            member.pending = {}
        self._join(member, mkey)
        if kind != "monitor_cond_since":
            return orjson.Fragment(body)
        txn = str(self.history.reported_id())
        self._emit({"action": "Resume", "session": session, "monitor_id": monitor_id,
                    "last": None if since is None else str(since),
                    "found": merged is not None, "txn": txn})
        return [merged is not None, txn, orjson.Fragment(body)]

    def change_condition(self, session: Any, old_id: Any, new_id: Any,
                         requests: Any) -> list[bytes]:
        okey, nkey = _id_key(old_id), _id_key(new_id)
        m = self._members.get((session, okey))
        if m is None:
            raise syntax_error(old_id, "unknown monitor session")
        if nkey != okey and (session, nkey) in self._members:
            raise syntax_error(new_id, "duplicate monitor ID")
        old_cg = m.cg
        group = old_cg.group
        wheres = parse_change_requests(self.schema, MonitorSpec(tuple(group.tables.values()), {}),
                                       requests)
        conds = dict(old_cg.conds)
        for t, w in wheres.items():
            cond = self._parse_cond(t, w)
            # ovsdb-server validates a v1 monitor's new condition but keeps sending it
            # every row: conditions do not apply to "update" notifications.
            if group.encoding != ENC_V1:
                conds[t] = cond
        out: list[bytes] = []
        last = str(self.history.reported_id())
        if m.pending:
            # A backlogged member first gets what it missed, under its old condition.
            out.append(envelope(m.kind, m.mid, self._compose_merged(old_cg, m.pending), last))
            m.pending = {}
        # OVS keeps tracking the columns of every condition the monitor ever had.
        tracked = {t: tuple(sorted(set(old_cg.tracked[t]) | set(conds[t].columns)))
                   for t in group.tables}
        key = tuple(conds[t].key for t in group.tables)
        body = None
        if key != old_cg.key[0]:
            ck = (old_cg.key[0], key)
            body = group.change_cache.get(ck)
            if body is None:
                body = self._dumps_db_order(
                    self._db(), self._compose_change(group, old_cg.conds, conds), False)
                group.change_cache[ck] = body
        # Create the new CondGroup before leaving the old one: leaving may empty (and
        # drop) the group, which must stay registered for the member's new condition.
        new_cg = self._cgroup_for(group, conds, tracked)
        self._members.pop((session, okey), None)
        self._sessions[session].pop(okey, None)
        old_cg.members.pop((session, okey), None)
        m.monitor_id, m.mid = new_id, orjson.dumps(new_id)
        m.cg = new_cg
        self._join(m, nkey)
        if old_cg is not new_cg:
            self._drop_if_empty(old_cg)
            old_cg.rebuild()
        if body is not None and body != b"{}":
            out.append(envelope(m.kind, m.mid, body, last))
        self._emit({"action": "ServerCondChange", "session": session, "old_id": old_id,
                    "new_id": new_id, "messages": len(out)})
        return out

    def cancel(self, session: Any, monitor_id: Any) -> None:
        mkey = _id_key(monitor_id)
        m = self._members.get((session, mkey))
        if m is not None:
            self._leave(m, mkey)

    def drop_session(self, session: Any) -> None:
        for mkey, m in list(self._sessions.get(session, {}).items()):
            self._leave(m, mkey)
        self._sessions.pop(session, None)
        self._backlogged.discard(session)
        self._window.pop(session, None)
        self._emit({"action": "Disconnect", "session": session})

    def set_backlogged(self, session: Any, backlogged: bool) -> list[bytes]:
        """While backlogged, the session's updates are merged per row (memory: at most
        one (old, new) pair of row references per distinct row changed, whatever the
        number of transactions); on release it gets one update per monitor that takes
        its replica straight to the current state (unless a merge window still holds
        it: then it gets that when the window closes)."""
        if backlogged:
            if session not in self._backlogged:
                self._backlogged.add(session)
                self._hold(session)
            return []
        if session not in self._backlogged:
            return []
        self._backlogged.discard(session)
        if session in self._window:
            return []
        return self._release(session)

    def backlogged_sessions(self) -> list[Any]:
        return list(self._backlogged)

    # -- the merge window ---------------------------------------------------------------
    # A commit that releases transactions blocked in ``wait`` reaches the other sessions
    # merged with the commits those transactions then make, as one update, before their
    # replies: ovsdb-server re-runs blocked transactions before it flushes monitors.  The
    # server opens the window before it applies such a commit, widens it to the committer
    # once the committer has had that commit (and its reply), and closes it when the
    # re-runs are done.  Held sessions merge exactly as backlogged ones do.

    def open_merge_window(self, committer: Any) -> None:
        """From now on, every session but ``committer`` gets its updates merged."""
        for session in self._sessions:
            if session != committer:
                self._hold_in_window(session)

    def widen_merge_window(self, session: Any) -> None:
        """Hold ``session`` too, if the window holds anyone."""
        if self._window:
            self._hold_in_window(session)

    def close_merge_window(self) -> list[Delivery]:
        """Release every session the window held (backlogged ones stay merged): one
        update per monitor, taking its replica to the current state."""
        window, self._window = self._window, {}
        out: list[Delivery] = []
        for session in window:
            if session not in self._backlogged:
                out += [Delivery((session,), data) for data in self._release(session)]
        return out

    def _hold_in_window(self, session: Any) -> None:
        if session not in self._backlogged and session not in self._window:
            self._window[session] = None
            self._hold(session)

    def _hold(self, session: Any) -> None:
        for m in self._sessions.get(session, {}).values():
            if m.pending is None:
                m.pending = {}
                m.cg.rebuild()

    def _release(self, session: Any) -> list[bytes]:
        out: list[bytes] = []
        last = str(self.history.reported_id())
        for m in list(self._sessions.get(session, {}).values()):
            pending, m.pending = m.pending, None
            m.cg.rebuild()
            if pending:
                body = self._compose_merged(m.cg, pending)
                if body != b"{}":
                    out.append(envelope(m.kind, m.mid, body, last))
        return out

    def sessions(self) -> list[Any]:
        """The sessions that have monitors here."""
        return list(self._sessions)

    def pending_rows(self, session: Any) -> int:
        """How many row changes are held for a backlogged session (the memory bound)."""
        return sum(len(rows) for m in self._sessions.get(session, {}).values()
                   if m.pending for rows in m.pending.values())

    def commit(self, changes: Any) -> list[Delivery]:
        for t, rows in getattr(changes, "tables", changes).items():
            if rows:
                self._tver[t] = self._tver.get(t, 0) + 1
        if not (self._groups or self.history.enabled or self._row_index.in_use
                or self.trace):
            # Nobody monitors and nothing is kept: only the counters move (without
            # history no transaction id is ever reported, so none is needed).
            return []
        txn_id = getattr(changes, "txn_id", None) or uuid4()
        norm = _normalise(changes)
        self.history.append(txn_id, norm, *self._count_atoms(norm))
        self._row_index.update(norm)
        last = ""
        deliveries: list[Delivery] = []
        for group in self._groups.values():
            touched = [t for t in group.tables if t in norm]
            if touched:
                last = last or str(self.history.reported_id())
                group.change_cache.clear()
                deliveries += self._commit_group(group, touched, norm, last)
        self._emit({"action": "Commit", "txn": str(txn_id),
                    "deliveries": [[list(d.sessions), d.data.decode()] for d in deliveries]}
                   if self.trace else {})
        return deliveries

    # -- composition ----------------------------------------------------------------

    def _commit_group(self, group: Group, touched: list[str], norm: dict,
                      last: str) -> list[Delivery]:
        enc = group.encoding
        out: dict[CondGroup, dict[str, dict]] = {}
        for tname in touched:
            spec = group.tables[tname]
            index = group.index[tname]
            ttypes = self._types[tname]
            for row_uuid, (old, new) in norm[tname].items():
                cands: set = set()
                index.candidates(old, cands)
                index.candidates(new, cands)
                if not cands:
                    continue
                base = base_type(old, new)
                changed: tuple | None = None
                pieces: dict[int, dict] = {}
                ustr = uuid_str(row_uuid)
                for cg in cands:
                    tc = cg.conds[tname]
                    om = old is not None and tc.match(old)
                    nm = new is not None and tc.match(new)
                    if not (om or nm):
                        continue
                    for m in cg.held:
                        # Merge: keep the first old and the latest new version.
                        held = m.pending.setdefault(tname, {})
                        cur = held.get(row_uuid)
                        if cur is None:
                            held[row_uuid] = [old, new]
                        else:
                            cur[1] = new
                    if not cg.live:
                        continue
                    cc = False
                    if base == MODIFY and om and nm:
                        if changed is None:
                            changed = changed_columns(spec, old, new)
                        cc = not changed and _any_changed(cg.tracked[tname], old, new)
                    kind = classify(spec, base, om, nm, changed, cc)
                    if not kind:
                        continue
                    piece = pieces.get(kind)
                    if piece is None:
                        piece = pieces[kind] = row_update(enc, spec, ttypes, kind, old, new,
                                                          changed, self._ucols[tname])
                    out.setdefault(cg, {}).setdefault(tname, {})[ustr] = piece
        deliveries = []
        row_orders: dict[str, list[str]] | None = None
        for cg, updates in out.items():
            sort = enc == ENC_V2 and cg.all_true
            if not sort and row_orders is None:
                row_orders = {t: [uuid_str(u) for u in wire_order.row_insertion_order(norm[t])]
                              for t in touched}
            body = wire_order.dumps(updates, sort, row_orders)
            for (kind, mid), sessions in cg.live.items():
                deliveries.append(Delivery(tuple(sessions), envelope(kind, mid, body, last)))
        return deliveries

    def _snapshot(self, cg: CondGroup) -> bytes:
        """The initial contents for ``cg``, built once and reused until a commit touches
        one of its tables."""
        group = cg.group
        versions = tuple(self._tver.get(t, 0) for t in group.tables)
        if cg.snapshot is not None and cg.snapshot[0] == versions:
            return cg.snapshot[1]
        db = self._db()
        out: dict[str, dict] = {}
        for tname, spec in group.tables.items():
            cond = cg.conds[tname]
            if not spec.select & INITIAL or cond.never:
                continue
            ttypes = self._types[tname]
            ucols = self._ucols[tname]
            rows = {uuid_str(u): row_update(group.encoding, spec, ttypes, INITIAL, None,
                                            row, None, ucols)
                    for u, row in self._rows_for(db, tname, (cond,)) if cond.match(row)}
            if rows:
                out[tname] = rows
        data = self._dumps_db_order(db, out, group.encoding == ENC_V2 and cg.all_true)
        cg.snapshot = (versions, data)
        return data

    def _compose_merged(self, cg: CondGroup, merged: Merged) -> bytes:
        group = cg.group
        out = {}
        for tname, pairs in merged.items():
            spec = group.tables.get(tname)
            if spec is None:
                continue
            rows = compose_pairs(group.encoding, spec, self._types[tname], cg.conds[tname],
                                 pairs, ucols=self._ucols[tname], tracked=cg.tracked[tname])
            if rows:
                out[tname] = rows
        orders = {t: [uuid_str(u) for u in wire_order.row_insertion_order(merged[t])] for t in out}
        return wire_order.dumps(out, group.encoding == ENC_V2 and cg.all_true, orders)

    def _compose_change(self, group: Group, old: dict[str, MonitorCondition],
                        new: dict[str, MonitorCondition]) -> dict:
        """Rows entering (insert) and leaving (delete) the condition."""
        db = self._db()
        out = {}
        for tname, spec in group.tables.items():
            oc, nc = old[tname], new[tname]
            if oc.key == nc.key:
                continue
            ttypes = self._types[tname]
            rows = {}
            for u, row in self._rows_for(db, tname, (oc, nc)):
                om, nm = oc.match(row), nc.match(row)
                if om == nm:
                    continue
                kind = INSERT if nm else DELETE
                if spec.select & kind:
                    rows[uuid_str(u)] = row_update(group.encoding, spec, ttypes, kind,
                                                   row, row, None, self._ucols[tname])
            if rows:
                out[tname] = rows
        return out

    def _dumps_db_order(self, db: Any, out: dict, sort: bool) -> bytes:
        if sort:
            return wire_order.dumps(out, True)
        orders = {t: [uuid_str(u) for u in table_order_of(db, t, rows)]
                  for t, rows in out.items()}
        return wire_order.dumps(out, False, orders)

    def _rows_for(self, db: Any, table: str, conds: tuple[MonitorCondition, ...]):
        """(uuid, row) of every row that may match one of ``conds``: from the row index
        when every condition is indexable, else the whole table."""
        terms: list = []
        for cond in conds:
            if cond.never:
                continue
            t = None if cond.always else cond.index_terms()
            if t is None:
                return table_rows(db, table)
            terms += t
        rows = table_map(db, table)
        return ((u, rows[u]) for u in self._row_index.candidates(db, table, terms))

    # -- membership ------------------------------------------------------------------

    def _parse_cond(self, table: str, where: Any) -> MonitorCondition:
        return parse_monitor_condition(self.schema.tables[table], where)

    def _group_for(self, spec: MonitorSpec, encoding: str) -> Group:
        key = (encoding, spec.tables)
        group = self._groups.get(key)
        if group is None:
            group = Group(key, encoding, {t.name: t for t in spec.tables})
            group.index = {t.name: ConditionIndex() for t in spec.tables}
            self._groups[key] = group
        return group

    def _cgroup_for(self, group: Group, conds: dict[str, MonitorCondition],
                    tracked: dict[str, tuple[str, ...]] | None = None) -> CondGroup:
        """The CondGroup for these conditions and tracked condition columns (by default
        the columns the conditions read)."""
        if tracked is None:
            tracked = {t: tuple(sorted(conds[t].columns)) for t in group.tables}
        key = (tuple(conds[t].key for t in group.tables),
               tuple(tracked[t] for t in group.tables))
        cg = group.cgroups.get(key)
        if cg is None:
            cg = CondGroup(group, key, {t: conds[t] for t in group.tables},
                           {t: tracked[t] for t in group.tables})
            group.cgroups[key] = cg
            for t, index in group.index.items():
                index.add(cg, cg.conds[t])
        return cg

    def _join(self, m: Member, mkey: bytes) -> None:
        self._members[(m.session, mkey)] = m
        self._sessions.setdefault(m.session, {})[mkey] = m
        m.cg.members[(m.session, mkey)] = m
        m.cg.rebuild()

    def _leave(self, m: Member, mkey: bytes) -> None:
        self._members.pop((m.session, mkey), None)
        self._sessions.get(m.session, {}).pop(mkey, None)
        cg = m.cg
        cg.members.pop((m.session, mkey), None)
        cg.rebuild()
        self._drop_if_empty(cg)

    def _drop_if_empty(self, cg: CondGroup) -> None:
        if not cg.members:
            group = cg.group
            for index in group.index.values():
                index.remove(cg)
            del group.cgroups[cg.key]
            if not group.cgroups:
                del self._groups[group.key]

    # -- helpers ---------------------------------------------------------------------

    def _count_atoms(self, norm: dict) -> tuple[int | None, int]:
        """(the atoms the database holds, OVS's default history bound, or None when
        another bound applies; the atoms of both versions of every changed row, what
        OVS charges a history entry), each row counted once. The database's total is
        kept up to date from each change set after one full count."""
        if not self.history.enabled:
            return None, 0
        entry = delta = 0
        for rows in norm.values():
            for old, new in rows.values():
                a_old = n_atoms(old) if old is not None else 0
                a_new = n_atoms(new) if new is not None else 0
                entry += a_old + a_new
                delta += a_new - a_old
        if self.history.max_atoms is not None:
            return None, entry
        if self._db_atoms is None:  # the first count: the change set is already in
            db = self._db()
            self._db_atoms = sum(n_atoms(row) for t in self.schema.tables
                                 for _, row in table_rows(db, t))
        else:
            self._db_atoms += delta
        return self._db_atoms, entry

    def _emit(self, event: dict) -> None:
        if self.trace is not None and event:
            self.trace(event)


def _any_changed(columns: tuple[str, ...], old: Any, new: Any) -> bool:
    return any(cell(old, c) != cell(new, c) for c in columns)


def _normalise(changes: Any) -> dict[str, dict[Any, tuple[Any, Any]]]:
    """ChangeSet (table -> uuid -> RowChange(old, new)) -> plain (old, new) tuples."""
    tables = getattr(changes, "tables", changes)
    out: dict[str, dict[Any, tuple[Any, Any]]] = {}
    for tname, rows in tables.items():
        conv = {}
        for u, rc in rows.items():
            if isinstance(rc, tuple):
                conv[u] = (rc[0], rc[1])
            else:
                conv[u] = (rc.old, rc.new)
        if conv:
            out[tname] = conv
    return out
