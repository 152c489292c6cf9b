"""The reference server's monitor core: monitor / monitor_cond / monitor_cond_since /
monitor_cond_change / monitor_cancel, sans I/O, composed once and shared by all sessions.

API (one ``MonitorEngine`` per hosted database; sessions are opaque hashable ids):

    engine = MonitorEngine(schema, db_getter, history_max_txns=100,
                           history_max_atoms=None, trace=None)

    engine.add(session, monitor_id, kind, requests, last_txn_id=None) -> result JSON
        kind: "monitor" | "monitor_cond" | "monitor_cond_since".  Validates ``requests``
        exactly as ovsdb-server 3.1 (raises reference.data.errors.OvsdbError with its texts,
        "duplicate monitor ID" included; the session layer may check that first).
        Returns the reply's "result": {table: {uuid: {"new": row}}} (update),
        {table: {uuid: {"initial": row}}} (update2), or [found, last_txn_id, updates2]
        (monitor_cond_since).  The updates part is an ``orjson.Fragment``: the snapshot
        is serialised once per (group, condition) and reused while nothing changed, so
        encode the reply with orjson (``orjson.dumps({"id":..,"result":..})``).
    engine.change_condition(session, old_id, new_id, requests) -> list[bytes]
        monitor_cond_change: the notifications to send before the {} reply (rows
        entering the condition as "insert", leaving as "delete", under ``new_id``;
        composed once per distinct (old condition, new condition) and database state).
        Errors: "unknown monitor session", "duplicate monitor ID", "no table named T in
        monitor session", "changing columns is unsupported", bad where clauses.
    engine.cancel(session, monitor_id) / engine.drop_session(session)
        Unknown ids are ignored (the session layer answers "unknown monitor").
    engine.commit(changes) -> list[Delivery]
        ``changes``: a committed ChangeSet (table -> uuid -> RowChange(old, new),
        ``.txn_id`` as storage named it; one is drawn if None), already applied to the
        database.  Delivery(sessions, data): write ``data`` (one complete JSON-RPC
        notification: update / update2 / update3) to each session; the server's one
        type for "these bytes to these sessions".  One notification per monitor per
        transaction, covering all its tables.
    engine.set_backlogged(session, flag) -> list[bytes]
        The shell says whether the session has unsent output.  While backlogged its
        updates are not queued but MERGED per row (first old, last new version); memory
        is bounded by one pair of row references per distinct row changed (not by the
        number of transactions; ``pending_rows(session)`` reports it).  Clearing the
        flag returns one notification per monitor that takes the client's replica to
        exactly the current state.  The backlog state lives here and only here.
    engine.open_merge_window(committer) / widen_merge_window(session)
    engine.close_merge_window() -> list[Delivery]
        The merge of released ``wait`` transactions: a commit that releases blocked
        transactions reaches every other session merged with the commits the released
        ones make.  The server opens the window before applying the releasing commit
        (every session but the committer's is held, merging as a backlogged one does),
        widens it to the committer after its reply, and closes it when the re-runs are
        done: one update per held monitor, before the re-runs' replies.  Sessions that
        were backlogged stay merged until the shell says they drained.
    engine.last_txn_id  the last-txn-id we put on the wire.

Sharing, and what the bytes look like:
    Monitors are grouped by (encoding, per-table columns and select flags); within a
    group by normalised condition (clauses deduplicated and sorted; the conditions
    themselves, parsed and evaluated, are reference.data.condition's).  A transaction is
    composed once per group and condition, serialised once, and the serialised
    <table-updates> is spliced into a notification once per distinct monitor-id value
    (clients of the same program use the same id, so they share the very same bytes).
    Which conditions a row change can concern is answered by a per-table index over
    ``[col, "==", v]`` and ``[col, "includes", v]`` clauses; other conditions are
    evaluated for every row (condition_index.py).

Exactness (tests/reference/test_monitor_vs_ovs.py, test_monitor_e2e_vs_ovs.py):
    the JSON equals ovsdb-server 3.1's, and so do the bytes: members are sorted in
    update2/update3 of monitors whose conditions are all true (OVS serialises those
    once) and in OVS's hash-table order otherwise (ovs_hash); only the order of rows
    within a table can differ, when hash-chain history is not reproduced.  OVS quirks
    kept: a change to a column only the condition reads (or a condition the monitor had
    before a monitor_cond_change read) sends an empty modify; with
    several requests for one table only the first one's "where" counts; a v1 monitor
    accepts monitor_cond_change but stays unconditional.

Invariant for the caller: every change to the database goes through ``commit`` (the
    engine keeps value indexes of the rows, built lazily from ``db_getter()``).

History (monitor_cond_since): shared by all groups, bounded by ``history_max_txns``
    and by atoms (``history_max_atoms``; None = no more atoms than the database holds, as
    OVS).  A known last-txn-id gets found=true and only the missed changes (merged);
    unknown or zero gets found=false and the full contents.  ``history_max_txns=0``
    reproduces standalone ovsdb-server 3.1 exactly (always found=false, zero UUID as
    last-txn-id, update3 carries the zero UUID); any positive value is our documented
    extension: history in standalone mode too.

Trace: ``trace(event)`` receives dicts named after spec/MonitorDelta.tla's actions
    (Commit, ServerCondChange, Resume, Disconnect); trace.random_trace(seed, steps)
    produces a whole client+server trace in spec/README.md's format.
"""

from reference.monitor.engine import Delivery, MonitorEngine

__all__ = ["Delivery", "MonitorEngine"]
