"""Consistency models and the anomalies each one rules out (Adya's PL levels as Elle
uses them).  A history is valid under a model when none of those anomalies was found."""

from __future__ import annotations

from harness.elle.cycles import CLASSES

# Broken promises whatever the isolation level: a list that is not a list.
ALWAYS = frozenset({"duplicate-elements", "incompatible-order", "phantom-element",
                    "internal"})
READ_COMMITTED = ALWAYS | {"G0", "G1a", "G1b", "G1c"}
SNAPSHOT_ISOLATION = READ_COMMITTED | {"G-single", "lost-update"}
SERIALIZABLE = SNAPSHOT_ISOLATION | {"G2-item"}
STRICT_SERIALIZABLE = SERIALIZABLE | {c + m for c in CLASSES
                                      for m in ("-process", "-realtime")}

# Weakest first: the first model a history breaks rules out every one after it.
MODELS: dict[str, frozenset[str]] = {
    "read-committed": frozenset(READ_COMMITTED),
    "snapshot-isolation": frozenset(SNAPSHOT_ISOLATION),
    "serializable": frozenset(SERIALIZABLE),
    "strict-serializable": frozenset(STRICT_SERIALIZABLE),
}
