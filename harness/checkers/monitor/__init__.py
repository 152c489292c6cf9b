"""Monitor checker: are the update streams that clients received correct? (pure, no I/O)

The package, one concept a module: ``values`` (wire values, schema column kinds,
update2 diffs, monitor conditions), ``writes`` (the server's states after every
transaction), ``session`` (one client's replica, replayed event by event: every
property's check), ``report`` (verdicts and counterexamples), ``replay`` (``check``:
all streams against the writes), ``history`` (how a monitor run is recorded in
``history.jsonl`` and read back) and ``checker`` (the campaign checker over a
history).  The definitions below are the contract they implement.

The OVSDB form of etcd's watch guarantees.  Input is what the harness recorded: the
write history (every committed transaction, in commit order, with its effects) and,
for every monitoring client, the stream of events it saw.  Output is one verdict per
property, each with its first counterexample.

The clock
---------
Updates carry no portable transaction number (standalone ovsdb-server sends the zero
UUID as last-txn-id), so the workload makes one: every transaction bumps an integer
column of one "clock" row (``clock=(table, column)``), and every monitor watches that
row.  Transaction number n is the one that set the clock to n; the clock value a
client's replica shows is the transaction its replica claims to be at.  Rows of the
clock table are used only as the clock and are not checked otherwise.

Record formats
--------------
(What ``check`` takes; ``harness.checkers.monitor.history`` builds both from the
events and ops the monitor workload records in ``history.jsonl``.)

Write history (``writes``)::

    {"initial": {table: {uuid: row}},              # state before txn 1 (clock = 0)
     "txns": [{"seq": 1, "changes": {table: {uuid: row | null}}}, ...]}

A snapshot without the clock row is taken to predate the initial state (a lagging
cluster member that has not applied the set-up): it must be empty, and the set-up then
arrives as an update that inserts the clock row at 0.  ``txns`` are all committed
transactions, seq 1..N in order; a change gives the full
row after the transaction (null = deleted).  Rows are column -> value in RFC 7047 wire
form.  Values should be unique per write (the workloads use tokens), so a received
row value names the transaction that wrote it.

A client's stream: ``{"client": name, "events": [event, ...]}`` in arrival order::

    {"type": "monitor", "method": "monitor_cond" | "monitor_cond_since",
     "cond": {table: [clause, ...]},   # every monitored table, [] = all rows
     "columns": {table: [col, ...]},   # optional: monitored columns (default: all)
     "since": txn-id | null,           # monitor_cond_since: the id the client sent
     "found": bool | null, "last_txn_id": id | null,
     "updates": table-updates2}        # the reply's initial/resumed contents
    {"type": "update", "updates": table-updates2, "last_txn_id": id | null}
    {"type": "cond_change", "cond": {table: [clause, ...]}}   # request sent
    {"type": "cond_change_reply", "error": null | str}        # its reply arrived
    {"type": "disconnect"}                                    # connection lost

Other keys are ignored (events read from a history carry their ``index``).  A
``monitor`` event after a ``disconnect`` is a reconnect; its ``since`` is the last
``last_txn_id`` the client saw, and with ``found`` true the client keeps its replica.

Properties (n = a transaction number, m = the clock value an update brings)
-----------------------------------------------------------------------------
ordered     Within a session, updates arrive in commit order: an update's clock value
            is never below one already reached, unless it repeats an update already
            received (that is a duplicate, see unique).
unique      No transaction is delivered twice in a session: no update repeats a clock
            value already received, no insert of a row the replica has, no delete of a
            row this session already deleted.
atomic      One transaction's changes arrive in one update: every row change in an
            update covering (p, m] was made by a transaction in (p, m] (not an earlier
            one arriving late, not a later one arriving early).
reliable    No gap: after an update at clock m is applied, every monitored row equals
            the server's state at m filtered by the condition (rows the client is owed
            are there, with their latest values; rows gone are gone).  A row found
            wrong that a later update of the same session fixes with its late value is
            an atomic violation instead; one never fixed, or fixed only by a newer
            write, is a gap.  So is a modify whose diff, applied to the client's copy,
            makes a row the server never had (the diff skipped a change).
filtered    Nothing outside the condition: every row the client is given in full
            (initial, insert) is a row the server really had with that value, and no
            row the client holds after an update fails the condition in force (either
            condition while a change is in flight).
resumable   A reconnect's monitor_cond_since reply with found=true brings the kept
            replica exactly to the state at its clock: no change at or before the
            last transaction seen is applied again, none after it is missing, and
            found=true is only for the id the client sent.  found=false means a full
            resync: the replica is replaced by the reply, which must equal the
            filtered state at its clock.
condition   After monitor_cond_change is answered, the replica equals the state at
            its clock filtered by the new condition.
convergent  When traffic has stopped, each connected client's replica is at the last
            transaction and equals the final state filtered by its condition.
acknowledged  (The writers' side, from the history: ``history.check_acknowledged``.)
            Every write acknowledged as committed is in the server's final log of
            committed writes, no two writes are acknowledged as the same transaction,
            and no refused write is in that log.

Counterexamples do not cascade: an update flagged as duplicate or out of order is not
applied, a row change flagged as unfiltered is not applied, and rows touched by an
out-of-order update are left out of later comparisons until a full row or a delete
makes them exact again.  A row inserted again or deleted again is judged when the
session ends: if an out-of-order update explains it (a row that left and re-entered
the condition, swapped) it is that ordering fault, not a duplicate; if the row had
left the view inside the range the update claims to cover, the update that removed it
never came (a gap).  A diff that makes a row nobody wrote is judged the same way: a
gap, unless an out-of-order update explains it.  While a condition change is in flight rows may match either
condition and the replica is compared only when the change is answered, so a gap
inside that window shows up as a condition fault.

Input that cannot be checked (a write history with holes, a clock beyond its end, an
event before any monitor reply) is listed in ``Report.problems`` and every verdict is
then "not ok": a checker that cannot see must not say yes.
"""


from harness.checkers.monitor.checker import MonitorChecker
from harness.checkers.monitor.history import read_input, read_streams, resolve_unknown
from harness.checkers.monitor.replay import check
from harness.checkers.monitor.report import PROPERTIES, Report, Violation
from harness.checkers.monitor.values import Columns, clause_matches, matches

__all__ = ["PROPERTIES", "Columns", "MonitorChecker", "Report", "Violation", "check",
           "clause_matches", "matches", "read_input", "read_streams", "resolve_unknown"]
