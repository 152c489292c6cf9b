"""Seeded generators of histories: linearizable ones, and ones with a planted violation.

Used by the tests and by ``bench/checker.py``.  A linearizable history is made by
simulating a real linearizable object: each client runs ops one after another; every op
gets a random call time, a random point inside its interval where it takes effect on
the (one, shared) object, and a random return.  Applying the ops in the order of those
points gives each its result.  Some ops are indeterminate: their effect is applied or
not (a coin), and they complete with ``info`` (the client then continues as a new
process, as in Jepsen).  So every generated history is linearizable by construction.

The object is simulated here with plain Python values, independently of
:mod:`harness.linear.models`, so the checker is not tested against itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from harness.history import Op, pair


@dataclass(slots=True)
class _Planned:
    client: int
    f: str
    input: Any
    key: Any
    call: float
    point: float
    ret: float
    info: bool
    applied: bool = True
    status: str = "ok"
    output: Any = None


def _choose(model: str, rng: random.Random, values: int) -> tuple[str, Any]:
    """A random op (f, invoke value) for ``model``."""
    r = rng.random()
    v = rng.randrange(values)
    if model in ("register",):
        return ("read", None) if r < 0.5 else ("write", v)
    if model == "kv":  # strings, so that append makes sense
        if r < 0.4:
            return "read", None
        if r < 0.6:
            return "write", str(v)
        if r < 0.8:
            return "append", f"x{v} "
        return "cas", [str(rng.randrange(values)), str(v)]
    if model == "cas-register":
        if r < 0.4:
            return "read", None
        if r < 0.7:
            return "write", v
        return "cas", [rng.randrange(values), v]
    if model == "counter":
        return ("read", None) if r < 0.4 else ("add", 1 + rng.randrange(values))
    if model == "set":
        return ("read", None) if r < 0.4 else ("add", rng.randrange(10 * values))
    if model == "ovsdb-row":
        if r < 0.35:
            return "read", {}
        if r < 0.5:
            return "insert", {"columns": {"v": v, "n": 0}}
        if r < 0.6:
            return "delete", {}
        if r < 0.75:
            return "update", {"columns": {"v": v}, "mutate": {"n": 1}}
        return "update", {"wait": {"v": rng.randrange(values)}, "columns": {"v": v}}
    raise ValueError(f"no generator for model {model!r}")


def _apply(model: str, state: Any, f: str, inp: Any) -> tuple[Any, str, Any]:
    """Run one op on the real object: (new state, completion type, result)."""
    if model in ("register", "cas-register", "kv"):
        if f == "read":
            return state, "ok", state
        if f == "write":
            return inp, "ok", inp
        if f == "append":
            return (state or "") + inp, "ok", inp
        if state == inp[0]:
            return inp[1], "ok", inp
        return state, "fail", inp
    if model == "counter":
        if f == "read":
            return state, "ok", state
        return state + inp, "ok", inp
    if model == "set":
        if f == "read":
            return state, "ok", sorted(state)
        return state | {inp}, "ok", inp
    # ovsdb-row: state is None or a dict of columns
    if "wait" in inp:
        w = inp["wait"]
        held = state is None if w is None else (
            state is not None and all(state.get(k) == x for k, x in w.items()))
        if not held:
            return state, "fail", inp
    if f == "read":
        return state, "ok", None if state is None else dict(state)
    if f == "insert":
        if state is not None:
            return state, "fail", inp
        return dict(inp["columns"]), "ok", inp
    if f == "delete":
        return None, "ok", {"count": int(state is not None)}
    if state is None:
        return None, "ok", {"count": 0}
    new = dict(state)
    new.update(inp.get("columns", {}))
    for k, n in inp.get("mutate", {}).items():
        new[k] = new.get(k, 0) + n
    return new, "ok", {"count": 1}


def _initial(model: str) -> Any:
    return {"counter": 0, "set": frozenset()}.get(model)


def simulate(
    model: str,
    *,
    clients: int = 5,
    ops: int = 80,
    info: int = 0,
    keys: int = 1,
    values: int = 5,
    seed: int = 0,
    latency: float = 1.0,
) -> list[Op]:
    """A linearizable history of ``ops`` operations by ``clients`` concurrent clients,
    ``info`` of them indeterminate, over ``keys`` independent objects (key field set
    when ``keys > 1`` or the model needs one)."""
    rng = random.Random(seed)
    info_at = set(rng.sample(range(ops), min(info, ops)))
    keyed = keys > 1 or model in ("kv", "ovsdb-row")
    clock = [rng.random() * latency for _ in range(clients)]
    planned: list[_Planned] = []
    for n in range(ops):
        c = rng.randrange(clients)
        f, inp = _choose(model, rng, values)
        start = clock[c]
        dur = rng.expovariate(1.0 / latency) + 1e-6
        point = start + dur * rng.uniform(0.05, 0.95)
        key = f"k{rng.randrange(keys)}" if keyed else None
        planned.append(_Planned(c, f, inp, key, start, point, start + dur, n in info_at))
        clock[c] = start + dur + rng.expovariate(4.0 / latency)
    state: dict[Any, Any] = {}
    for p in sorted(planned, key=lambda p: p.point):
        if p.info and rng.random() < 0.5:
            p.applied = False
            continue
        cur = state.get(p.key, _initial(model))
        new, p.status, p.output = _apply(model, cur, p.f, p.input)
        state[p.key] = new
    return _events(planned, clients, rng)


def simulate_kv_appends(
    *, clients: int = 50, keys: int = 10, ops: int = 1712, seed: int = 0, latency: float = 1.0
) -> list[Op]:
    """A linearizable kv history in the shape of Porcupine's published kv test data (MIT
    6.824's): Jepsen's op names, about 49% ``append``, 46% ``get`` and 5% ``put``, each
    written value unique (``"x <client> <n> y"``), so values grow into long strings; a
    get of a key never written reads ``""``.  No indeterminate ops."""
    rng = random.Random(seed)
    clock = [rng.random() * latency for _ in range(clients)]
    made = [0] * clients
    planned: list[_Planned] = []
    for _ in range(ops):
        c = rng.randrange(clients)
        r = rng.random()
        f = "get" if r < 0.46 else "put" if r < 0.51 else "append"
        inp = None if f == "get" else f"x {c} {made[c]} y"
        made[c] += f != "get"
        start = clock[c]
        dur = rng.expovariate(1.0 / latency) + 1e-6
        point = start + dur * rng.uniform(0.05, 0.95)
        planned.append(_Planned(c, f, inp, str(rng.randrange(keys)), start, point,
                                start + dur, False))
        clock[c] = start + dur + rng.expovariate(4.0 / latency)
    state: dict[Any, str] = {}
    for p in sorted(planned, key=lambda p: p.point):
        cur = state.get(p.key, "")
        if p.f == "get":
            p.output = cur
        else:
            state[p.key] = p.input if p.f == "put" else cur + p.input
    return _events(planned, clients, rng)


def _events(planned: list[_Planned], clients: int, rng: random.Random) -> list[Op]:
    # Number processes Jepsen's way: a client that saw 'info' continues as a new process.
    proc_of: list[int] = []
    current = list(range(clients))
    for p in sorted(planned, key=lambda p: p.call):
        proc_of.append(current[p.client])
        if p.info:
            current[p.client] += clients
    raw: list[tuple[float, int, int, str, str, Any, Any]] = []
    for proc, p in zip(proc_of, sorted(planned, key=lambda p: p.call), strict=True):
        raw.append((p.call, 0, proc, "invoke", p.f, p.input, p.key))
        if p.info:
            # half the indeterminate ops are reported (as 'info'), half never return
            if rng.random() < 0.5:
                raw.append((p.ret, 1, proc, "info", p.f, p.input, p.key))
        else:
            raw.append((p.ret, 1, proc, p.status, p.f, p.output, p.key))
    raw.sort(key=lambda r: (r[0], r[1]))
    return [Op(i, int(t * 1e6), proc, typ, f, v, k)
            for i, (t, _, proc, typ, f, v, k) in enumerate(raw)]


def _stale_value(ops: list[Op], key: Any) -> Any:
    """A value some ok op wrote to ``key`` that no indeterminate op could write later."""
    written, maybe = [], set()
    for o in pair(ops):
        if o.key != key or o.f not in ("write", "put", "cas") or o.status == "fail":
            continue
        v = o.input[1] if o.f == "cas" else o.input
        (written.append(v) if o.status == "ok" else maybe.add(v))
    ok = [v for v in written if v not in maybe and v is not None]
    return ok[0] if ok else -1


def plant_violation(ops: list[Op], model: str) -> list[Op]:
    """Append a certain violation after everything in ``ops`` has been called.

    Two fresh processes run one after the other: a write and then a read that misses it
    (a stale read or a lost update), chosen so that no indeterminate op of ``ops``, which
    may still take effect at any time, can explain it.
    """
    base = max((o.process for o in ops if isinstance(o.process, int)), default=0) + 1
    idx = ops[-1].index + 1 if ops else 0
    t = (ops[-1].time if ops else 0) + 1000
    tail: list[tuple[int, str, str, Any, Any]] = []
    if model in ("register", "cas-register", "kv"):
        key = next((o.key for o in ops if o.key is not None), "k0" if model == "kv" else None)
        fresh: Any = 10**6
        read, write = "read", "write"
        if any(o.f in ("get", "put") for o in ops):  # Jepsen's names, string values
            fresh, read, write = "fresh", "get", "put"
        stale = _stale_value(ops, key)
        tail = [(base, "invoke", write, fresh, key), (base, "ok", write, fresh, key),
                (base + 1, "invoke", read, None, key), (base + 1, "ok", read, stale, key)]
    elif model == "counter":
        total = sum(o.value for o in ops if o.type == "ok" and o.f == "add")
        tail = [(base, "invoke", "add", 1, None), (base, "ok", "add", 1, None),
                (base + 1, "invoke", "read", None, None),
                (base + 1, "ok", "read", total, None)]
    elif model == "set":
        added = sorted({o.value for o in ops if o.type == "ok" and o.f == "add"})
        tail = [(base, "invoke", "add", -1, None), (base, "ok", "add", -1, None),
                (base + 1, "invoke", "read", None, None),
                (base + 1, "ok", "read", added, None)]
    elif model == "ovsdb-row":
        key = "planted"
        tail = [(base, "invoke", "insert", {"columns": {"v": 1}}, key),
                (base, "ok", "insert", {"columns": {"v": 1}}, key),
                (base, "invoke", "update", {"columns": {"v": 2}}, key),
                (base, "ok", "update", {"count": 1}, key),
                (base + 1, "invoke", "read", {}, key), (base + 1, "ok", "read", {"v": 1}, key)]
    else:
        raise ValueError(f"no planted violation for model {model!r}")
    out = list(ops)
    for n, (proc, typ, f, v, key) in enumerate(tail):
        out.append(Op(idx + n, t + 1000 * n, proc, typ, f, v, key))
    return out
