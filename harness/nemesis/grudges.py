"""Partition shapes, as Jepsen draws them.  Pure functions of (nodes, rng).

A *grudge* maps each node to the set of nodes whose traffic it drops.  A symmetric
grudge is a partition; an asymmetric one is a set of one-way links.
"""

from __future__ import annotations

import random

Grudge = dict[str, set[str]]


def complete(components: list[list[str]]) -> Grudge:
    """Nodes talk only inside their own component."""
    everyone = [n for c in components for n in c]
    grudge: Grudge = {}
    for comp in components:
        for n in comp:
            grudge[n] = {m for m in everyone if m not in comp}
    return grudge


def one_node(nodes: list[str], rng: random.Random) -> Grudge:
    """One node alone, the rest together."""
    lone = rng.choice(nodes)
    return complete([[lone], [n for n in nodes if n != lone]])


def majority_minority(nodes: list[str], rng: random.Random) -> Grudge:
    """A random majority and the minority."""
    shuffled = rng.sample(nodes, len(nodes))
    m = len(nodes) // 2 + 1
    return complete([shuffled[:m], shuffled[m:]])


def majorities_ring(nodes: list[str], rng: random.Random) -> Grudge:
    """Every node sees a majority (itself and the next ones on a shuffled ring), and no
    two nodes see the same majority.  With three nodes it is a one-way cycle."""
    ring = rng.sample(nodes, len(nodes))
    m = len(nodes) // 2 + 1
    grudge: Grudge = {}
    for i, n in enumerate(ring):
        sees = {ring[(i + j) % len(ring)] for j in range(m)}
        grudge[n] = set(nodes) - sees
    return grudge


def bridge(nodes: list[str], rng: random.Random) -> Grudge:
    """Two halves that cannot talk to each other, and one node that talks to both."""
    shuffled = rng.sample(nodes, len(nodes))
    mid = len(nodes) // 2
    b = shuffled[mid]
    left, right = shuffled[:mid], shuffled[mid + 1:]
    grudge: Grudge = {b: set()}
    for n in left:
        grudge[n] = set(right)
    for n in right:
        grudge[n] = set(left)
    return grudge


def one_way(nodes: list[str], rng: random.Random) -> Grudge:
    """One directed link cut: ``dst`` drops what ``src`` sends."""
    src, dst = rng.sample(nodes, 2)
    return {dst: {src}}


SHAPES = {
    "partition-one": one_node,
    "partition-majority": majority_minority,
    "partition-ring": majorities_ring,
    "partition-bridge": bridge,
    "one-way": one_way,
}


def describe(grudge: Grudge) -> str:
    cuts = [f"{src}->{dst}" for dst, srcs in sorted(grudge.items()) for src in sorted(srcs)]
    return ", ".join(cuts) if cuts else "no cuts"
