"""The dependency graph: transactions as nodes, typed edges, strongly connected
components, and the shortest cycle of a given shape.

An edge ``a -> b`` means "a must come before b"; its types are bits, one pair of nodes
may carry several:

- ``WW``: b appended to a key right after a's append (write-write);
- ``WR``: b read a key's list ending in a's append (write-read);
- ``RW``: a read a key's list and b appended the element that came next (read-write,
  an anti-dependency);
- ``PROCESS``: the same process ran a, then b;
- ``REALTIME``: a completed before b was invoked.

The searches are iterative (histories have 100,000 transactions) and bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

WW, WR, RW, PROCESS, REALTIME = 1, 2, 4, 8, 16
DATA = WW | WR | RW
NAMES = {WW: "ww", WR: "wr", RW: "rw", PROCESS: "process", REALTIME: "realtime"}


class Graph:
    def __init__(self, n: int) -> None:
        self.n = n
        self.out: list[dict[int, int]] = [{} for _ in range(n)]

    def link(self, a: int, b: int, bit: int) -> None:
        if a != b:
            row = self.out[a]
            row[b] = row.get(b, 0) | bit

    def edges(self) -> int:
        return sum(len(r) for r in self.out)


def components(g: Graph) -> list[list[int]]:
    """Tarjan's strongly connected components with more than one node (a node has no
    edge to itself), iteratively."""
    index = [-1] * g.n
    low = [0] * g.n
    on_stack = [False] * g.n
    stack: list[int] = []
    found: list[list[int]] = []
    counter = 0
    for root in range(g.n):
        if index[root] >= 0:
            continue
        work = [(root, iter(g.out[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, iter(g.out[w])))
                    advanced = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if advanced:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(comp)
    return found


Step = tuple[int, int]  # (node, type of the edge taken from it to the next node)


def shortest_path(g: Graph, src: int, dst: int, allowed: int, members: set[int],
                  start: int, step: Callable[[int, int], int | None],
                  accept: Callable[[int], bool], limit: int) -> list[Step] | None:
    """The shortest walk ``src -> ... -> dst`` over edges of the ``allowed`` types
    inside ``members``, tracking a small state (an int) along the way: ``step(state,
    bit)`` is the state after taking an edge of type ``bit`` (None: not allowed), and
    the walk must end in a state ``accept`` takes.  At most ``limit`` states are
    visited.  Only simple walks count (no node twice).  Returns the steps, each (node,
    type of the edge out of it)."""
    first = (src, start)
    parent: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {first: None}
    queue = deque([first])
    while queue and len(parent) < limit:
        here = queue.popleft()
        node, state = here
        for nxt, bits in g.out[node].items():
            if nxt not in members:
                continue
            bits &= allowed
            while bits:
                bit = bits & -bits
                bits ^= bit
                s = step(state, bit)
                if s is None:
                    continue
                there = (nxt, s)
                if there in parent or nxt == src:
                    continue
                parent[there] = (here, bit)
                if nxt == dst:
                    # The cycle closes here: a walk through dst would pass its start.
                    if accept(s) and _simple(walk := _walk(parent, there), dst):
                        return walk
                    continue
                queue.append(there)
    return None


def _simple(walk: list[Step], dst: int) -> bool:
    """No node twice (a walk round two cycles is not one cycle of its class)."""
    nodes = [n for n, _ in walk]
    return len(set(nodes)) == len(nodes) and dst not in nodes


def _walk(parent: dict, end: tuple[int, int]) -> list[Step]:
    steps: list[Step] = []
    at = end
    while parent[at] is not None:
        prev, bit = parent[at]
        steps.append((prev[0], bit))
        at = prev
    steps.reverse()
    return steps
