-------------------------- MODULE MonitorDeltaTrace --------------------------
(***************************************************************************)
(* Trace validation for MonitorDelta.  MDTraceData (written into a temp    *)
(* folder by harness/spec/trace_validation.py) holds the events the        *)
(* reference monitor core logged, as the sequence Trace.  A cursor i walks *)
(* it: each step performs the spec action the event names, with the        *)
(* event's inputs, and requires the event's outputs (diffs, found, txn     *)
(* ids, the replica) to equal what the spec computes.  Every step is       *)
(* logged, so the trace is a behaviour of MonitorDelta iff the cursor can  *)
(* reach the end: the invariant NotDone is then violated, which is how TLC *)
(* says "accepted" (exit 12).  A trace that stops early is rejected at the *)
(* first event no step can take.                                           *)
(***************************************************************************)
EXTENDS MonitorDelta, MDTraceData

VARIABLE i

E == Trace[i + 1]

\* Sets of <<key, value>> pairs stand for JSON objects keyed by row or client.
HasKey(S, k) == \E p \in S : p[1] = k
Lookup(S, k, dflt) == IF HasKey(S, k) THEN (CHOOSE p \in S : p[1] = k)[2] ELSE dflt

NewDb == [r \in Rows |-> Lookup(E.rows, r, db[r])]
ReplicaOf(S) == [r \in Rows |-> Lookup(S, r, Absent)]
LastMsg(c) == chan'[c][Len(chan'[c])]

CommitStep ==
    /\ E.txn = txn + 1
    /\ CommitTo(NewDb)
    /\ \A c \in Clients :
         IF HasKey(E.updates, c)
         THEN /\ Len(chan'[c]) = Len(chan[c]) + 1
              /\ LastMsg(c).ups = Lookup(E.updates, c, {})
         ELSE chan'[c] = chan[c]

RequestStep == RequestCondChange(E.client, E.cond)

ServerCondStep ==
    /\ ServerCondChange(E.client)
    /\ Head(req[E.client]) = E.cond
    /\ LastMsg(E.client).ups = E.ups

ResumeStep ==
    /\ Resume(E.client)
    /\ E.cond = ccond[E.client]
    /\ E.last = ResumeLast(E.client)
    /\ E.found = Found(ResumeLast(E.client))
    /\ E.txn = txn
    /\ chan'[E.client][1].ups = E.ups

ApplyStep ==
    /\ ApplyUpdate2(E.client)
    /\ Head(chan[E.client]).kind = E.kind
    /\ Head(chan[E.client]).txn = E.txn
    /\ replica'[E.client] = ReplicaOf(E.replica)

TraceInit == i = 0 /\ InitWith(TrInitCond)

TraceNext ==
    /\ i < Len(Trace)
    /\ i' = i + 1
    /\ CASE E.action = "Commit"            -> CommitStep
         [] E.action = "RequestCondChange" -> RequestStep
         [] E.action = "ServerCondChange"  -> ServerCondStep
         [] E.action = "Disconnect"        -> Disconnect(E.client)
         [] E.action = "Resume"            -> ResumeStep
         [] E.action = "ApplyUpdate2"      -> ApplyStep
         [] OTHER                          -> FALSE

\* Violated exactly when the whole trace has been replayed.
NotDone == i < Len(Trace)
=============================================================================
