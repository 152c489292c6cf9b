---------------------------- MODULE MCOvsdbRaft -----------------------------
(* Model-checking helpers for OvsdbRaft: server symmetry. *)
EXTENDS OvsdbRaft, TLC

Symm == Permutations(Server)

\* Canaries: invariants the simulation must violate, to show that it reaches the
\* parts of the protocol it is meant to exercise (a sampled run that never installs
\* a snapshot proves nothing about InstallSnapshot).
NoSnapshotInstall == \A m \in msgs : m.type # "is"
NoMembershipCommitted == \A i \in 1..Len(committed) : committed[i].type # "conf"
NoForwardedCommit ==
    \A i \in 1..Len(committed) : committed[i].cmd \notin UNION {pending[s] : s \in Server}
NoLeader == \A s \in Server : state[s] # "Leader"
NoCommit == committed = <<>>
NoTransfer == \A m \in msgs : m.type # "tn"
=============================================================================
