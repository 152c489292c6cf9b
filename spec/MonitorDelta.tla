---------------------------- MODULE MonitorDelta ----------------------------
(***************************************************************************)
(* OVSDB monitor deltas, as a client's replica sees them.                  *)
(*                                                                         *)
(* One table of rows named by Rows; a row holds a scalar n, a set s and a  *)
(* map m (a set of <<key, value>> pairs).  The server commits              *)
(* transactions; at each commit it composes, for every connected client,   *)
(* the update2 diff between the client's condition-filtered view before    *)
(* and after, and queues it (only when the view changed) tagged with the   *)
(* transaction id, as update3 does.  Clients change their condition        *)
(* (monitor_cond_change travels on the same ordered link as everything     *)
(* else), lose their connection, and resume with monitor_cond_since        *)
(* against a history of the last HistLen transactions, falling back to a   *)
(* full resync when the id is not found.                                   *)
(*                                                                         *)
(* Invariant ReplicaOK: a client's replica always equals the server state  *)
(* at the client's last transaction id, filtered by the condition the      *)
(* replica was built with.  So after every applied update the replica is   *)
(* exactly the filtered server state at that transaction, and after a      *)
(* resume nothing is missed or applied twice (a missed or doubled set      *)
(* toggle or map diff changes the replica).                                *)
(*                                                                         *)
(* Bug switches (constant Bug):                                            *)
(*  "hist_off_by_one"   the server also accepts the id one older than the  *)
(*                      history holds, and composes from the oldest state  *)
(*                      it still has, so one transaction is skipped.       *)
(*  "stale_cond_resume" the client resumes with its last id although its   *)
(*                      replica was built with another condition (a        *)
(*                      condition change was lost with the connection).    *)
(* Action names are the trace event names (see README "Trace events").    *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS Clients,        \* client ids
          Rows,           \* row names
          Vals,           \* values of n, elements of s, keys and values of m
          Conds,          \* conditions clients may ask for (exhaustive mode)
          HistLen,        \* transactions kept for monitor_cond_since
          MaxTxn,         \* bound on commits
          MaxCondChanges, \* bound on condition changes (all clients)
          MaxDisconnects, \* bound on disconnects (all clients)
          Bug             \* "none", "hist_off_by_one", "stale_cond_resume"

VARIABLES hist,    \* hist[k+1]: the database after transaction k (k = 0: empty)
          conn,    \* conn[c]: client c has a live session
          scond,   \* scond[c]: the condition of c's session on the server
          ccond,   \* ccond[c]: the condition client c wants
          rcond,   \* rcond[c]: the condition c's replica was built with
          req,     \* req[c]: monitor_cond_change requests in flight to the server
          chan,    \* chan[c]: messages in flight to client c (ordered, TCP)
          replica, \* replica[c]: client c's copy of the table
          last,    \* last[c]: the transaction id c's replica reflects
          nCC,     \* condition changes so far
          nDisc    \* disconnects so far

vars == <<hist, conn, scond, ccond, rcond, req, chan, replica, last, nCC, nDisc>>

-----------------------------------------------------------------------------
(* Rows, maps, conditions. *)

\* An absent row is a record too, so that every comparison is between records.
Absent == [ex |-> FALSE, n |-> 0, s |-> {}, m |-> {}]
NewRow == [ex |-> TRUE, n |-> 0, s |-> {}, m |-> {}]
EmptyDb == [r \in Rows |-> Absent]

Keys(m) == {p[1] : p \in m}
Pick(S) == CHOOSE x \in S : TRUE

\* A clause is [fn, val, set]: orderings compare n with val, includes/excludes
\* compare s with set; "true"/"false" ignore both.  A condition is a set of
\* clauses, ORed, the empty set meaning true (as in monitor_cond).
ClauseHolds(cl, row) ==
    CASE cl.fn = "true"     -> TRUE
      [] cl.fn = "false"    -> FALSE
      [] cl.fn = "=="       -> row.n = cl.val
      [] cl.fn = "!="       -> row.n # cl.val
      [] cl.fn = "<"        -> row.n < cl.val
      [] cl.fn = "<="       -> row.n <= cl.val
      [] cl.fn = ">"        -> row.n > cl.val
      [] cl.fn = ">="       -> row.n >= cl.val
      [] cl.fn = "includes" -> cl.set \subseteq row.s
      [] cl.fn = "excludes" -> cl.set \cap row.s = {}

Matches(cond, row) == cond = {} \/ \E cl \in cond : ClauseHolds(cl, row)

Filter(d, cond) ==
    [r \in Rows |-> IF d[r].ex /\ Matches(cond, d[r]) THEN d[r] ELSE Absent]

-----------------------------------------------------------------------------
(* update2: the diff of one row, and applying it on the client.            *)
(* A row update is [row, op, n, s, m]: n is {} or {new value}; for modify  *)
(* s is the set of elements to toggle and m the map diff (keys only in the *)
(* old map with their old value, new or changed keys with the new value).  *)

RowUpdate(r, old, new) ==
    IF ~old.ex THEN [row |-> r, op |-> "insert", n |-> {new.n}, s |-> new.s, m |-> new.m]
    ELSE IF ~new.ex THEN [row |-> r, op |-> "delete", n |-> {}, s |-> {}, m |-> {}]
    ELSE [row |-> r, op |-> "modify",
          n |-> IF old.n = new.n THEN {} ELSE {new.n},
          s |-> (old.s \ new.s) \cup (new.s \ old.s),
          m |-> (new.m \ old.m) \cup {p \in old.m : p[1] \notin Keys(new.m)}]

Diff(a, b) == {RowUpdate(r, a[r], b[r]) : r \in {x \in Rows : a[x] # b[x]}}

\* A modify of a row the client does not hold is ignored (the IDL logs it).
ApplyRow(old, u) ==
    CASE u.op = "insert" -> [ex |-> TRUE, n |-> Pick(u.n), s |-> u.s, m |-> u.m]
      [] u.op = "delete" -> Absent
      [] OTHER -> IF ~old.ex THEN old
                  ELSE [ex |-> TRUE,
                        n |-> IF u.n = {} THEN old.n ELSE Pick(u.n),
                        s |-> (old.s \ u.s) \cup (u.s \ old.s),
                        m |-> {p \in old.m : p[1] \notin Keys(u.m)} \cup (u.m \ old.m)]

Apply(rep, U) ==
    [r \in Rows |-> IF \E u \in U : u.row = r
                    THEN ApplyRow(rep[r], CHOOSE u \in U : u.row = r)
                    ELSE rep[r]]

-----------------------------------------------------------------------------
(* The server's history. *)

txn == Len(hist) - 1
db == hist[Len(hist)]
Snap(k) == hist[k + 1]

\* monitor_cond_since finds id l when the transactions after l are all kept.
Found(l) == l >= 1 /\ (l >= txn - HistLen \/ (Bug = "hist_off_by_one" /\ l = txn - HistLen - 1))

\* The state the server diffs from: the database at l, or with the bug, the
\* oldest state it still holds (one transaction too late).
Base(l) == IF l >= txn - HistLen THEN Snap(l) ELSE Snap(txn - HistLen)

\* The id a client sends on resume: its last id, unless its replica was
\* built with another condition than the one it asks for now.
ResumeLast(c) ==
    IF rcond[c] = ccond[c] \/ Bug = "stale_cond_resume" THEN last[c] ELSE 0

Msg(kind, t, k, ups) == [kind |-> kind, txn |-> t, cond |-> k, ups |-> ups]

-----------------------------------------------------------------------------
(* Actions. *)

InitWith(k0) ==
    /\ hist = <<EmptyDb>>
    /\ conn = [c \in Clients |-> FALSE]
    /\ scond = k0
    /\ ccond = k0
    /\ rcond = k0
    /\ req = [c \in Clients |-> <<>>]
    /\ chan = [c \in Clients |-> <<>>]
    /\ replica = [c \in Clients |-> EmptyDb]
    /\ last = [c \in Clients |-> 0]
    /\ nCC = 0
    /\ nDisc = 0

Init == \E k0 \in [Clients -> Conds] : InitWith(k0)

\* A transaction leaving the database as d; composed at once for every session.
CommitTo(d) ==
    /\ txn < MaxTxn
    /\ hist' = Append(hist, d)
    /\ chan' = [c \in Clients |->
                 LET before == Filter(db, scond[c])
                     after == Filter(d, scond[c])
                 IN IF conn[c] /\ before # after
                    THEN Append(chan[c], Msg("update", txn + 1, scond[c], Diff(before, after)))
                    ELSE chan[c]]
    /\ UNCHANGED <<conn, scond, ccond, rcond, req, replica, last, nCC, nDisc>>

\* The one-row changes the exhaustive model commits.
RowChanges(o) ==
    IF ~o.ex THEN {NewRow} \cup {[NewRow EXCEPT !.n = v] : v \in Vals}
    ELSE {Absent}
         \cup {[o EXCEPT !.n = v] : v \in Vals \ {o.n}}
         \cup {[o EXCEPT !.s = (o.s \ {e}) \cup ({e} \ o.s)] : e \in Vals}
         \cup {[o EXCEPT !.m = {p \in o.m : p[1] # k} \cup {<<k, v>>}] :
                 k \in Vals, v \in Vals}
         \cup {[o EXCEPT !.m = {p \in o.m : p[1] # k}] : k \in Keys(o.m)}

Commit == \E r \in Rows : \E v \in RowChanges(db[r]) \ {db[r]} :
            CommitTo([db EXCEPT ![r] = v])

RequestCondChange(c, k) ==
    /\ nCC < MaxCondChanges
    /\ ccond' = [ccond EXCEPT ![c] = k]
    /\ req' = IF conn[c] THEN [req EXCEPT ![c] = Append(@, k)] ELSE req
    /\ nCC' = nCC + 1
    /\ UNCHANGED <<hist, conn, scond, rcond, chan, replica, last, nDisc>>

\* The server switches the session's condition and sends the rows entering and
\* leaving it, with the reply, tagged with the current transaction id.
ServerCondChange(c) ==
    /\ conn[c]
    /\ req[c] # <<>>
    /\ LET k == Head(req[c]) IN
         /\ scond' = [scond EXCEPT ![c] = k]
         /\ chan' = [chan EXCEPT ![c] =
                       Append(@, Msg("cond", txn, k, Diff(Filter(db, scond[c]), Filter(db, k))))]
         /\ req' = [req EXCEPT ![c] = Tail(@)]
    /\ UNCHANGED <<hist, conn, ccond, rcond, replica, last, nCC, nDisc>>

Disconnect(c) ==
    /\ conn[c]
    /\ nDisc < MaxDisconnects
    /\ conn' = [conn EXCEPT ![c] = FALSE]
    /\ chan' = [chan EXCEPT ![c] = <<>>]
    /\ req' = [req EXCEPT ![c] = <<>>]
    /\ nDisc' = nDisc + 1
    /\ UNCHANGED <<hist, scond, ccond, rcond, replica, last, nCC>>

\* monitor_cond_since [db, id, ccond[c], ResumeLast(c)] and the server's answer.
Resume(c) ==
    /\ ~conn[c]
    /\ LET l == ResumeLast(c)
           k == ccond[c]
       IN /\ conn' = [conn EXCEPT ![c] = TRUE]
          /\ scond' = [scond EXCEPT ![c] = k]
          /\ chan' = [chan EXCEPT ![c] =
                       IF Found(l)
                       THEN <<Msg("resume", txn, k, Diff(Filter(Base(l), k), Filter(db, k)))>>
                       ELSE <<Msg("full", txn, k, Diff(EmptyDb, Filter(db, k)))>>]
    /\ UNCHANGED <<hist, ccond, rcond, req, replica, last, nCC, nDisc>>

\* The client applies the oldest message; a full resync starts from nothing.
ApplyUpdate2(c) ==
    /\ chan[c] # <<>>
    /\ LET msg == Head(chan[c]) IN
         /\ replica' = [replica EXCEPT ![c] =
                          Apply(IF msg.kind = "full" THEN EmptyDb ELSE @, msg.ups)]
         /\ last' = [last EXCEPT ![c] = msg.txn]
         /\ rcond' = [rcond EXCEPT ![c] = msg.cond]
         /\ chan' = [chan EXCEPT ![c] = Tail(@)]
    /\ UNCHANGED <<hist, conn, scond, ccond, req, nCC, nDisc>>

Next ==
    \/ Commit
    \/ \E c \in Clients :
         \/ \E k \in Conds \ {ccond[c]} : RequestCondChange(c, k)
         \/ ServerCondChange(c)
         \/ Disconnect(c)
         \/ Resume(c)
         \/ ApplyUpdate2(c)

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Properties. *)

\* The replica is the filtered server state at the client's last id.
ReplicaOK == \A c \in Clients : replica[c] = Filter(Snap(last[c]), rcond[c])

\* Messages to a client never go back in time, nor behind what it has.
Ordered ==
    \A c \in Clients :
       \A i \in 1..Len(chan[c]) :
          /\ chan[c][i].txn >= last[c]
          /\ i > 1 => chan[c][i].txn >= chan[c][i - 1].txn

=============================================================================
