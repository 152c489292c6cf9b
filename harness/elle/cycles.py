"""Cycles in the dependency graph, named as Adya and Elle name them.

The class of a cycle is set by its data edges: only ww is G0 (dirty write), ww and wr
with at least one wr is G1c (circular information flow), exactly one rw is G-single
(read skew), two or more rw is G2-item (write skew).  A cycle that needs a process
edge gets ``-process``, one that needs a real-time edge ``-realtime``: such a history
is serializable but not in the order its processes or the clock saw.

Within each strongly connected component, for each class, the search takes a few edges
of the kind the class must have (a "seed" a -> b) and looks for the shortest way back
b -> ... -> a over the edges the class allows, tracking how many rw, wr and process or
real-time edges the walk used.  A class found plainly is not looked for again with
``-process`` or ``-realtime``.  The search is bounded per component and in total time;
when time runs out, what is left unexplained makes the verdict unknown.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.elle.anomaly import Anomaly
from harness.elle.explain import cycle_text, why
from harness.elle.graph import DATA, NAMES, PROCESS, REALTIME, RW, WR, WW, shortest_path
from harness.elle.list_append import Analysis

CLASSES = ("G0", "G1c", "G-single", "G2-item")
MODIFIERS = ("", "-process", "-realtime")
SEEDS_PER_SEARCH = 12  # seed edges tried per class per component
CYCLES_PER_TYPE = 10  # reported per anomaly type (each from its own component)


@dataclass(frozen=True)
class _Shape:
    name: str
    data: int  # data edges the cycle may use
    seed: int
    extra: int  # process/real-time edges it may use
    need_extra: int  # of which it must use at least one


def shapes() -> list[_Shape]:
    out = []
    for mod in MODIFIERS:
        extra = {"": 0, "-process": PROCESS, "-realtime": PROCESS | REALTIME}[mod]
        need = {"": 0, "-process": PROCESS, "-realtime": REALTIME}[mod]
        for cls in CLASSES:
            data = {"G0": WW, "G1c": WW | WR}.get(cls, DATA)
            seed = need or {"G0": WW, "G1c": WR}.get(cls, RW)
            out.append(_Shape(cls + mod, data, seed, extra, need))
    return out


def plain(name: str) -> str:
    """The class of an anomaly name without its modifier: G-single-realtime -> G-single."""
    return name.removesuffix("-process").removesuffix("-realtime")


def _rules(shape: _Shape):
    cls = plain(shape.name)

    def step(state: int, bit: int) -> int | None:
        rw, wr, extra = state >> 2, (state >> 1) & 1, state & 1
        if bit == RW:
            rw = min(rw + 1, 2)
            if cls == "G-single" and rw > 1:
                return None
        elif bit == WR:
            wr = 1
        if bit & shape.need_extra:
            extra = 1
        return rw << 2 | wr << 1 | extra

    def accept(state: int) -> bool:
        rw, wr, extra = state >> 2, (state >> 1) & 1, state & 1
        if shape.need_extra and not extra:
            return False
        return {"G0": rw == 0 and wr == 0, "G1c": rw == 0 and wr == 1,
                "G-single": rw == 1, "G2-item": rw >= 2}[cls]

    return step, accept


@dataclass
class Search:
    anomalies: list[Anomaly]
    components: int
    largest: int
    complete: bool  # every component had its cycles looked for within the time budget


def find_cycles(an: Analysis, components: list[list[int]], budget_s: float = 30.0) -> Search:
    deadline = time.monotonic() + budget_s
    found: dict[str, list[Anomaly]] = {}
    complete = True
    for comp in sorted(components, key=len):
        if time.monotonic() > deadline:
            complete = False
            break
        members = set(comp)
        here: set[str] = set()
        for shape in shapes():
            cls = plain(shape.name)
            if shape.need_extra and (cls in here or (shape.need_extra == REALTIME and
                                                     cls + "-process" in here)):
                continue
            cycle = _shortest(an, comp, members, shape, deadline)
            if cycle is not None:
                # Looked for even when enough examples are kept: it still names this
                # component's cycle, so the verdict is known.
                here.add(shape.name)
                kept = found.setdefault(shape.name, [])
                if len(kept) < CYCLES_PER_TYPE:
                    kept.append(_anomaly(an, shape.name, cycle))
        if not here:
            complete = False  # a cycle is there, and no search named it in time
    out = [a for name in sorted(found) for a in found[name]]
    return Search(out, len(components), max((len(c) for c in components), default=0),
                  complete)


def _shortest(an: Analysis, comp: list[int], members: set[int], shape: _Shape,
              deadline: float) -> list[tuple[int, int]] | None:
    g = an.graph
    allowed = shape.data | shape.extra
    step, accept = _rules(shape)
    best: list[tuple[int, int]] | None = None
    tried = 0
    limit = 12 * len(comp) + 64
    for a in comp:
        for b, bits in g.out[a].items():
            if not bits & shape.seed or b not in members:
                continue
            start = step(0, shape.seed)
            if start is None:
                continue
            path = shortest_path(g, b, a, allowed, members, start, step, accept, limit)
            tried += 1
            if path is not None and (best is None or len(path) + 1 < len(best)):
                best = [(a, shape.seed), *path]
                if len(best) == 2:
                    return best
            if tried >= SEEDS_PER_SEARCH or time.monotonic() > deadline:
                return best
    return best


def _anomaly(an: Analysis, name: str, cycle: list[tuple[int, int]]) -> Anomaly:
    steps = []
    for i, (a, bit) in enumerate(cycle):
        b = cycle[(i + 1) % len(cycle)][0]
        steps.append({"from": a, "to": b, "type": NAMES[bit], "why": why(an, a, b, bit)})
    return Anomaly(name, [a for a, _ in cycle], cycle_text(an, steps), steps=steps)
