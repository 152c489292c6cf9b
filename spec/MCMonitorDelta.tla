--------------------------- MODULE MCMonitorDelta ---------------------------
(* Model values for MonitorDelta that a .cfg file cannot write: conditions. *)
EXTENDS MonitorDelta

Clause(fn, v, S) == [fn |-> fn, val |-> v, set |-> S]

\* true; n == 0; s includes {1}: a scalar test, a set test and the empty (true) list.
MCConds == {{}, {Clause("==", 0, {})}, {Clause("includes", 0, {1})}}
=============================================================================
