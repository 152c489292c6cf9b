"""The fault schedule of a campaign: a pure function of (seed, fault kinds, nodes, time).

The same seed gives the same schedule, whatever the target can do at run time (a fault
the target cannot inject is recorded as skipped, it does not shift the others).

Faults come one at a time: after a quiet warm-up, a fault starts, lasts a while, is
healed, and the system gets a quiet gap before the next one.  The last stretch of the
run is quiet too, so the system can recover and the final operations complete.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from harness.nemesis.grudges import SHAPES, describe

PROCESS_FAULTS = ("kill", "pause", "leave")
# Aimed at whichever member leads when the fault starts (resolved at run time and
# recorded in the fault's start event; the schedule itself stays seed-only).
LEADER_FAULTS = ("kill-leader", "pause-leader", "isolate-leader")
NETWORK_FAULTS = (*SHAPES, "drop", "reset", "delay")
CLIENT_FAULTS = ("client-delay", "client-drop", "client-reset")
ALL_FAULTS = (*PROCESS_FAULTS, *LEADER_FAULTS, *NETWORK_FAULTS, *CLIENT_FAULTS)
# Short names for the command line.
ALIASES = {
    "partition": tuple(SHAPES)[:-1],  # every partition shape but one-way
    "process": ("kill", "pause"),
    "network": ("partition-one", "partition-majority", "partition-ring",
                "partition-bridge", "one-way", "drop", "reset", "delay"),
    "client": CLIENT_FAULTS,
    "leader": LEADER_FAULTS,
    "all": ("kill", "pause", "partition-one", "partition-majority", "partition-ring",
            "partition-bridge", "one-way", "drop", "reset", "delay"),
}


@dataclass(frozen=True)
class Fault:
    id: int
    kind: str
    start: float  # seconds after the campaign's start
    duration: float
    nodes: tuple[str, ...] = ()
    grudge: dict[str, list[str]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return self.start + self.duration

    def describe(self) -> str:
        if self.grudge:
            return f"{self.kind} [{describe({k: set(v) for k, v in self.grudge.items()})}]"
        if self.kind in LEADER_FAULTS and not self.nodes:
            return self.kind
        words = [self.kind, ",".join(self.nodes),
                 *(f"{k}={v}" for k, v in sorted(self.params.items()))]
        return " ".join(w for w in words if w)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "start": round(self.start, 3),
                "duration": round(self.duration, 3), "nodes": list(self.nodes),
                "grudge": self.grudge, "params": self.params, "text": self.describe()}


# Faults that act between members: on a single node they can only be skipped.
NEEDS_TWO_NODES = (*SHAPES, "isolate-leader")
WARMUP_S, COOLDOWN_S, FAULT_S, GAP_S = 2.0, 3.0, (2.0, 5.0), (1.0, 3.0)
# The shortest run in which every seed schedules a fault.
MIN_TIME_S = WARMUP_S + FAULT_S[1] + COOLDOWN_S


def schedule_problem(seed: int | str, kinds: list[str], n_nodes: int,
                     total_s: float) -> str | None:
    """Why a run with these faults would inject none (None if it can inject some):
    every kind needs members to cut apart and there is one node, or the run is too
    short for the first fault to fit.  Only the seed and the count of nodes matter."""
    if not kinds:
        return None
    if n_nodes < 2 and all(k in NEEDS_TWO_NODES for k in kinds):
        return (f"nemesis {','.join(kinds)} cannot fault a single node (it acts between "
                "members): use --nodes 3, or a fault such as kill or pause")
    if not plan(seed, kinds, [f"n{i}" for i in range(max(n_nodes, 1))], total_s):
        return (f"--time {total_s:g} is too short for any fault (after {WARMUP_S:g} s of "
                f"warm-up a fault lasts up to {FAULT_S[1]:g} s and must end {COOLDOWN_S:g} s "
                f"before the end): use --time {MIN_TIME_S:g} or more, or --nemesis none")
    return None


def parse_kinds(spec: str) -> list[str]:
    """``"kill,partition"`` -> the fault kinds; ``""``/``"none"`` -> no faults."""
    kinds: list[str] = []
    for word in (w.strip() for w in spec.split(",")):
        if not word or word == "none":
            continue
        expanded = ALIASES.get(word, (word,))
        for k in expanded:
            if k not in ALL_FAULTS:
                names = ", ".join([*ALL_FAULTS, *ALIASES, "none"])
                raise ValueError(f"unknown nemesis {word!r}: choose from {names}")
            if k not in kinds:
                kinds.append(k)
    return kinds


def plan(seed: int | str, kinds: list[str], nodes: list[str], total_s: float,
         warmup_s: float = WARMUP_S, cooldown_s: float = COOLDOWN_S,
         fault_s: tuple[float, float] = FAULT_S,
         gap_s: tuple[float, float] = GAP_S) -> list[Fault]:
    rng = random.Random(f"{seed}:nemesis")
    faults: list[Fault] = []
    if not kinds:
        return faults
    t = warmup_s
    while True:
        kind = rng.choice(kinds)
        duration = rng.uniform(*fault_s)
        if kind in ("reset", "client-reset"):
            duration = 0.5  # RSTs only need a moment; the reconnects are the fault
        if t + duration > total_s - cooldown_s:
            break
        nodes_t: tuple[str, ...] = ()
        grudge: dict[str, list[str]] = {}
        params: dict[str, Any] = {}
        if kind in SHAPES:
            if len(nodes) < 2:
                nodes_t = tuple(nodes)  # nothing to cut: recorded, then skipped
            else:
                g = SHAPES[kind](nodes, rng)
                grudge = {k: sorted(v) for k, v in sorted(g.items()) if v}
        elif kind == "drop":
            nodes_t = (rng.choice(nodes),)
            params = {"probability": round(rng.uniform(0.2, 0.5), 2)}
        elif kind == "delay":
            params = {"delay_ms": rng.choice([25, 50, 100, 200])}  # every member link
        elif kind in CLIENT_FAULTS:
            nodes_t = (rng.choice(nodes),)
            if kind == "client-delay":
                params = {"delay_ms": rng.choice([50, 100, 250, 500])}
            elif kind == "client-drop":
                # The proxy cannot lose part of a TCP stream: the link goes dark, one
                # way or both.
                params = {"direction": rng.choice(["both", "c2s", "s2c"])}
        elif kind in LEADER_FAULTS:
            nodes_t = ()  # the leader at run time
        else:
            nodes_t = (rng.choice(nodes),)
        faults.append(Fault(len(faults), kind, round(t, 3), round(duration, 3),
                            nodes_t, grudge, params))
        t += duration + rng.uniform(*gap_s)
    return faults
