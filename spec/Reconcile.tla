------------------------------ MODULE Reconcile ------------------------------
(***************************************************************************)
(* Resync by set reconciliation of row digests.                            *)
(*                                                                         *)
(* A client comes back with a stale replica.  Instead of downloading the   *)
(* whole filtered table it sends a digest of its rows (an invertible Bloom *)
(* lookup table over <<row, content hash>> pairs, abstracted here to the   *)
(* set itself).  The server subtracts the digest of its own filtered rows  *)
(* and decodes the symmetric difference.  Decoding succeeds only when the  *)
(* difference is small enough (at most Capacity pairs), and even then may  *)
(* fail (peeling gets stuck); on failure the server falls back to a full   *)
(* resync.  Transactions keep committing throughout: those the server      *)
(* committed before it answered are in the answer, those after it are     *)
(* streamed as updates behind the answer on the same ordered link.        *)
(*                                                                         *)
(* A row's value stands for its content (so <<row, value>> is a row digest *)
(* entry); 0 means the row does not exist.  The client's condition is the  *)
(* set Shown of values it wants to see.                                    *)
(*                                                                         *)
(* Invariants: NoDuplicateRows (a row is held at most once), Converged     *)
(* (once the answer and every queued update are applied, the replica is *)
(* the server's filtered state: nothing lost, nothing stale), ExactlyOnce *)
(* (no transaction's update is applied twice).                           *)
(*                                                                         *)
(* Bug switches (constant Bug):                                            *)
(*  "no_fallback"          a failed decode sends what it could peel        *)
(*                         instead of falling back to a full resync.       *)
(*  "replay_from_request"  the server streams the transactions committed   *)
(*                         since the client sent its digest, although its  *)
(*                         answer already contains them.                   *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS Rows, Vals, Shown, Capacity, MaxTxn, MaxRounds, Bug

VARIABLES db,         \* db[r]: the row's value on the server (0 = no row)
          log,        \* log[k]: <<row, old value, new value>> of transaction k
          phase,      \* the client: "stale", "sent" (digest in flight), "wait", "live"
          req,        \* the digest in flight: [pairs, txn] (txn: when it was sent)
          registered, \* the server streams updates to the client
          chan,       \* messages in flight to the client (ordered)
          replica,    \* the client's rows, as a set of <<row, value>> pairs
          upto,       \* the last transaction the replica reflects (-1: unknown)
          dup,        \* a transaction reached the replica twice
          rounds      \* reconciliations so far

vars == <<db, log, phase, req, registered, chan, replica, upto, dup, rounds>>

txn == Len(log)
Vis(v) == v # 0 /\ v \in Shown
Pairs(d) == {<<r, d[r]>> : r \in {x \in Rows : Vis(d[x])}}
NoReq == [pairs |-> {}, txn |-> -1]

UpdateMsg(k, r, old, new) ==
    [kind |-> "update", txn |-> k,
     dels |-> IF Vis(old) THEN {<<r, old>>} ELSE {},
     adds |-> IF Vis(new) THEN {<<r, new>>} ELSE {}]

\* The updates for transactions a+1..b, as the server would stream them.
Replay(a, b) ==
    [j \in 1..(b - a) |-> UpdateMsg(a + j, log[a + j][1], log[a + j][2], log[a + j][3])]

Init ==
    /\ db \in [Rows -> {0} \cup Vals]
    /\ \E f \in [Rows -> {0} \cup Vals] : replica = Pairs(f)   \* any stale replica
    /\ log = <<>>
    /\ phase = "stale"
    /\ req = NoReq
    /\ registered = FALSE
    /\ chan = <<>>
    /\ upto = -1
    /\ dup = FALSE
    /\ rounds = 0

Commit(r, v) ==
    /\ txn < MaxTxn
    /\ v # db[r]
    /\ db' = [db EXCEPT ![r] = v]
    /\ log' = Append(log, <<r, db[r], v>>)
    /\ chan' = IF registered /\ (Vis(db[r]) \/ Vis(v))
               THEN Append(chan, UpdateMsg(txn + 1, r, db[r], v))
               ELSE chan
    /\ UNCHANGED <<phase, req, registered, replica, upto, dup, rounds>>

SendDigest ==
    /\ phase = "stale"
    /\ rounds < MaxRounds
    /\ phase' = "sent"
    /\ req' = [pairs |-> replica, txn |-> txn]
    /\ rounds' = rounds + 1
    /\ UNCHANGED <<db, log, registered, chan, replica, upto, dup>>

\* The server decodes the difference and answers; from now on it streams updates.
ServerReconcile ==
    /\ phase = "sent"
    /\ LET S == Pairs(db)
           D == req.pairs
           diff == (D \ S) \cup (S \ D)
           ok == [kind |-> "recon", txn |-> txn, dels |-> D \ S, adds |-> S \ D]
           full == [kind |-> "full", txn |-> txn, dels |-> {}, adds |-> S]
           tail == IF Bug = "replay_from_request" THEN Replay(req.txn, txn) ELSE <<>>
       IN \/ /\ Cardinality(diff) <= Capacity          \* decoding succeeded
             /\ chan' = <<ok>> \o tail
          \/ /\ Bug # "no_fallback"                      \* decoding failed: full resync
             /\ chan' = <<full>> \o tail
          \/ /\ Bug = "no_fallback"                      \* failed, sends what it peeled
             /\ Cardinality(diff) > Capacity
             /\ \E P \in SUBSET diff :
                  /\ Cardinality(P) <= Capacity
                  /\ chan' = <<[ok EXCEPT !.dels = P \cap (D \ S), !.adds = P \cap (S \ D)]>>
                             \o tail
    /\ phase' = "wait"
    /\ registered' = TRUE
    /\ req' = NoReq
    /\ UNCHANGED <<db, log, replica, upto, dup, rounds>>

Apply ==
    /\ chan # <<>>
    /\ LET m == Head(chan) IN
         /\ replica' = IF m.kind = "full" THEN m.adds ELSE (replica \ m.dels) \cup m.adds
         /\ phase' = IF m.kind = "update" THEN phase ELSE "live"
         \* An answer covers every transaction up to its txn; an update must be newer.
         /\ upto' = m.txn
         /\ dup' = (dup \/ (m.kind = "update" /\ m.txn <= upto))
    /\ chan' = Tail(chan)
    /\ UNCHANGED <<db, log, req, registered, rounds>>

\* The link drops: queued messages and the digest in flight are lost.
Disconnect ==
    /\ phase # "stale"
    /\ rounds < MaxRounds
    /\ phase' = "stale"
    /\ registered' = FALSE
    /\ chan' = <<>>
    /\ req' = NoReq
    /\ UNCHANGED <<db, log, replica, upto, dup, rounds>>

Next ==
    \/ \E r \in Rows, v \in {0} \cup Vals : Commit(r, v)
    \/ SendDigest
    \/ ServerReconcile
    \/ Apply
    \/ Disconnect

Spec == Init /\ [][Next]_vars

NoDuplicateRows == \A p, q \in replica : p[1] = q[1] => p = q

Converged == (phase = "live" /\ chan = <<>>) => replica = Pairs(db)

ExactlyOnce == ~dup

=============================================================================
