"""Structured mutation of JSON inputs, for atheris's ``custom_mutator``.

libFuzzer's own mutations flip bytes, so most of what they make of a JSON-RPC message
is no longer JSON and never gets past the parser.  Here an input that parses is
mutated as a JSON value: one node, picked at random, is replaced by a value taken from
the seed corpus (crossover: a table name, a where clause, a whole op), by an edge value
of another type, or deleted, duplicated or wrapped.  One input in five still gets
libFuzzer's byte mutation, so the parsers see broken text too.  All choices come from
the seed libFuzzer passes, so a run is reproducible.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable
from typing import Any

import atheris
import orjson

EDGES: list[Any] = [
    None, True, False, 0, 1, -1, 2 ** 31, 2 ** 63 - 1, -2 ** 63, 2 ** 63, 2 ** 64, 0.5,
    -0.0, 1e308, "", "x" * 300, "\u00e9\u4e2d", "_uuid", "_version", "named-uuid", "uuid",
    "set", "map", ["set", []], ["map", []], ["uuid", "not-a-uuid"],
    ["uuid", "00000000-0000-0000-0000-000000000000"], [], {},
]
MAX_NODES = 64  # nodes considered per mutation: enough to reach every member of a message


def dump(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # nested deeper than orjson writes, or an integer over 64 bits
        return json.dumps(value, separators=(",", ":")).encode()


def load(data: bytes, kind: type) -> Any:
    """The JSON value a target's input holds if it is a ``kind``, else None (the target
    then has nothing to test: that input is the framer's business)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, kind) else None


def _walk(value: Any, out: list[tuple[Any, Any]], parent: Any = None, key: Any = None
          ) -> None:
    """(container, key) of each node, breadth first, at most MAX_NODES."""
    queue = [(parent, key, value)]
    while queue and len(out) < MAX_NODES:
        p, k, v = queue.pop(0)
        out.append((p, k))
        if isinstance(v, list):
            queue.extend((v, i, x) for i, x in enumerate(v))
        elif isinstance(v, dict):
            queue.extend((v, kk, x) for kk, x in v.items())


class JsonMutator:
    """Mutates JSON inputs with values harvested from ``seeds`` (JSON texts)."""

    def __init__(self, seeds: Iterable[bytes]) -> None:
        self.values: list[Any] = list(EDGES)
        self.keys: list[str] = []
        for s in seeds:
            self._harvest(orjson.loads(s))
        self.keys = sorted(set(self.keys)) or ["x"]

    def _harvest(self, v: Any) -> None:
        if len(self.values) < 20000:
            self.values.append(v)
        if isinstance(v, list):
            for x in v:
                self._harvest(x)
        elif isinstance(v, dict):
            self.keys.extend(v)
            for x in v.values():
                self._harvest(x)

    def mutate_value(self, rng: random.Random, value: Any) -> Any:
        root = [value]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            nodes: list[tuple[Any, Any]] = []  # walked again: a step may delete nodes
            _walk(root[0], nodes, root, 0)
            parent, key = rng.choice(nodes)
            self._mutate_at(rng, parent, key)
        return root[0]

    def _pick(self, rng: random.Random, pool: list[Any]) -> Any:
        # A copy: a later step of the same mutation may change what it inserted.
        return copy.deepcopy(rng.choice(pool))

    def _mutate_at(self, rng: random.Random, parent: Any, key: Any) -> None:
        old = parent[key]
        r = rng.random()
        if r < 0.45:
            parent[key] = self._pick(rng, self.values)
        elif r < 0.6:
            parent[key] = self._pick(rng, EDGES)
        elif r < 0.7 and isinstance(old, (list, dict)) and old:
            if isinstance(old, list):
                del old[rng.randrange(len(old))]
            else:
                del old[rng.choice(list(old))]
        elif r < 0.8 and isinstance(old, list):
            old.insert(rng.randint(0, len(old)), self._pick(rng, old or self.values))
        elif r < 0.9 and isinstance(old, dict):
            old[rng.choice(self.keys)] = self._pick(rng, self.values)
        elif r < 0.95:
            parent[key] = [old]
        elif isinstance(old, int) and not isinstance(old, bool):
            parent[key] = old + rng.choice((-1, 1, -2 ** 32, 2 ** 32))
        else:
            parent[key] = ["set", [old]] if rng.random() < 0.5 else ["map", [[old, old]]]

    def __call__(self, data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.2:
            return atheris.Mutate(data, max_size)
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return atheris.Mutate(data, max_size)
        out = dump(self.mutate_value(rng, value))
        return out if len(out) <= max_size else atheris.Mutate(data, max_size)
