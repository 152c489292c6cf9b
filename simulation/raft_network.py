"""The simulated network between cluster members: which directed links are cut, in the
partition shapes Jepsen uses, plus per-message drop, duplication and delay (random
delays reorder messages).  Delivery itself is an event of the cluster's queue."""

from __future__ import annotations

import random

SHAPES = ("isolate-one", "majority-minority", "ring", "bridge", "one-way")


class Network:
    def __init__(self, sids: list[str], rng: random.Random, *, drop: float = 0.02,
                 duplicate: float = 0.02, max_delay_ms: int = 30) -> None:
        self.sids = sids
        self.rng = rng
        self.drop = drop
        self.duplicate = duplicate
        self.max_delay_ms = max_delay_ms
        self.cut: set[tuple[str, str]] = set()
        self.shape = "healed"

    def can_send(self, src: str, dst: str) -> bool:
        return (src, dst) not in self.cut

    def delays(self) -> list[int]:
        """Delivery delays for one message: none (dropped), one, or two (duplicated)."""
        if self.rng.random() < self.drop:
            return []
        out = [self.rng.randint(1, self.max_delay_ms)]
        if self.rng.random() < self.duplicate:
            out.append(self.rng.randint(1, 3 * self.max_delay_ms))
        return out

    def heal(self) -> str:
        self.cut = set()
        self.shape = "healed"
        return "heal"

    def partition(self, shape: str | None = None, first: str | None = None) -> str:
        """Cuts links in one of SHAPES (random if None); returns a description.
        ``first`` (say, the leader) takes the first place: the isolated member, the
        minority's first, the bridge."""
        rng = self.rng
        shape = shape or rng.choice(SHAPES)
        sids = list(self.sids)
        rng.shuffle(sids)
        if first is not None:
            sids.remove(first)
            sids.insert(0, first)
        n = len(sids)
        allowed: set[tuple[str, str]] = set()
        if shape == "isolate-one":
            groups = [sids[:1], sids[1:]]
        elif shape == "majority-minority":
            k = n // 2
            groups = [sids[:k], sids[k:]]
        elif shape == "bridge":
            # Two halves that cannot talk, and one member that talks to both.
            k = (n - 1) // 2
            bridge, a, b = sids[0], sids[1:1 + k], sids[1 + k:]
            groups = [a + [bridge], b + [bridge]]
        elif shape == "ring":
            # Each member talks only to its neighbours in a ring.
            groups = [[sids[i], sids[(i + 1) % n]] for i in range(n)]
        else:  # one-way: one member can send to the others but hears nobody
            victim = sids[0]
            self.cut = {(s, victim) for s in sids if s != victim}
            self.shape = shape
            return f"partition {shape}: nobody reaches {victim[:8]}"
        for g in groups:
            allowed |= {(x, y) for x in g for y in g}
        self.cut = {(x, y) for x in sids for y in sids if x != y and (x, y) not in allowed}
        self.shape = shape
        described = " | ".join(",".join(s[:4] for s in g) for g in groups)
        return f"partition {shape}: {described}"
