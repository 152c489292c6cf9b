---------------------------- MODULE MCOvsdbRaft -----------------------------
(* Model-checking helpers for OvsdbRaft: server symmetry. *)
EXTENDS OvsdbRaft, TLC

Symm == Permutations(Server)
=============================================================================
