"""The linearizability search: Wing & Gong, with Lowe's just-in-time linearization.

A history is linearizable if every operation can be given a point between its call and
its return such that the ops, run one after another in that order on the sequential
model, give the results the history recorded.  Indeterminate ops (``info``) have no
return: their point may be anywhere after the call, or they never take effect.

The search (Wing & Gong 1993, as improved by Lowe 2017 and used by Porcupine):

- Calls and returns form one doubly-linked list in real-time (history index) order.
- Walk the list from the front.  At a *call*, try to linearize that op now: if the model
  accepts it and the pair (set of linearized ops, new state) has not been seen before,
  push (op, old state), take the op's call and return out of the list ("lift") and start
  again from the front.  Otherwise move on to the next entry.
- At a *return*, the op it belongs to had to be linearized already and was not: undo
  the most recent choice (pop, put the op back) and continue after it.
- Success when every determinate op is linearized (unplaced ``info`` ops never happened);
  failure when a return is met with nothing left to undo.

Only calls before the first remaining return are ever tried: that is the "just in time"
part; it keeps the real-time order without computing it.  The memo makes the search
visit each (linearized set, state) pair once, which is what bounds it in practice.

Beyond Lowe, one pruning for indeterminate ops, which otherwise make the search explode
(each may be placed at any point, or never).  A configuration (L, s) is *dominated* by
(L', s) when L' lacks some of L's indeterminate ops and is otherwise equal: whatever can
follow (L, s) can follow (L', s), where the missing ops simply never happen.  So (1) an
indeterminate op that would leave the state unchanged is not placed (the result would
be dominated by the configuration we are in), and (2) a configuration is skipped when
the one without any of its indeterminate ops has been visited: that one has either
failed, or is an ancestor on the stack whose remaining branches cover this one.  The
differential tests compare the search with and without it.

The deepest point the search reached is kept for the report: the ops linearized there
(the longest linearizable prefix found) and the op whose return stopped it (the op that
could not be placed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from harness.history import Operation
from harness.linear.models import INVALID, Model, show

LINEARIZABLE = "linearizable"
NOT_LINEARIZABLE = "not-linearizable"
UNKNOWN = "unknown"


class TimedOut(Exception):
    pass


@dataclass(slots=True)
class PartitionResult:
    """The search over one key's operations."""

    key: Any
    verdict: str
    ops: list[Operation]
    # op ids (Operation.id) of the longest linearizable prefix found, in linearization
    # order, and the state after each of them (shown with models.show)
    linearization: list[int] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    # the op that could not be placed after that prefix (None when linearizable)
    blocked: int | None = None
    steps: int = 0
    elapsed_s: float = 0.0


def search(
    ops: list[Operation],
    compiled: list[Any],
    model: Model,
    deadline: float | None = None,
    dominance: bool = True,
) -> tuple[bool, list[int], int | None, int]:
    """Run the search over ``ops`` (with ``compiled[i]`` the model's form of ``ops[i]``).

    Returns (linearizable, best prefix as positions in ``ops``, blocked position or None,
    steps taken).  Raises TimedOut when ``deadline`` (time.monotonic) passes.
    """
    n = len(ops)
    # Entries 1..2n (a call and maybe a return per op), 0 = head, last = tail sentinel.
    events: list[tuple[int, int, bool]] = []
    for i, o in enumerate(ops):
        events.append((o.call_index, i, True))
        if o.return_index is not None:
            events.append((o.return_index, i, False))
    events.sort()
    m = len(events)
    tail = m + 1
    nxt = list(range(1, m + 2)) + [tail]
    prv = [0] + list(range(0, m + 1))
    is_call = [False] * (m + 2)
    opid = [-1] * (m + 2)
    ret_of = [-1] * (m + 2)  # call entry -> its return entry (or -1 for info)
    call_entry = [0] * n
    for e, (_, i, call) in enumerate(events, start=1):
        is_call[e] = call
        opid[e] = i
        if call:
            call_entry[i] = e
        else:
            ret_of[call_entry[i]] = e
    remaining = sum(1 for o in ops if o.return_index is not None)

    fns = [model.transition(c) for c in compiled]
    info_mask = sum(1 << i for i, o in enumerate(ops) if o.return_index is None)
    if not dominance:  # plain Lowe memo, for differential tests
        info_mask = 0
    det_mask = ((1 << n) - 1) ^ info_mask
    state: Any = model.init()
    lin = 0
    stack: list[tuple[int, Any]] = []
    seen: set[tuple[int, Any]] = set()
    add_seen = seen.add
    best: list[int] = []
    blocked: int | None = None
    pushes = pops = 0
    e = nxt[0]
    while remaining:
        if is_call[e]:
            i = opid[e]
            new = fns[i](state)
            # An indeterminate op that leaves the state as it is would only lead to a
            # configuration dominated by the current one (see _dominance): skip it.
            if new is not INVALID and not (info_mask and ret_of[e] < 0 and new == state):
                bits = lin | (1 << i)
                size = len(seen)
                add_seen((bits, new))  # one hash: grew means not seen before
                if len(seen) != size and (
                    not bits & info_mask or (bits & det_mask, new) not in seen
                ):
                    pushes += 1
                    stack.append((e, state))
                    state, lin = new, bits
                    # lift the call and its return out of the list
                    nxt[prv[e]] = nxt[e]
                    prv[nxt[e]] = prv[e]
                    r = ret_of[e]
                    if r >= 0:
                        nxt[prv[r]] = nxt[r]
                        prv[nxt[r]] = prv[r]
                        remaining -= 1
                    e = nxt[0]
                    continue
            e = nxt[e]
            continue
        # a return (or the tail): its op should have been linearized by now
        if len(stack) > len(best) or blocked is None:
            best = [opid[x] for x, _ in stack]
            blocked = opid[e] if e != tail else None
        if not stack:
            return False, best, blocked, pushes + pops
        pops += 1
        if deadline is not None and not pops & 1023 and time.monotonic() > deadline:
            raise TimedOut
        e, state = stack.pop()
        i = opid[e]
        lin &= ~(1 << i)
        # put the call and its return back, in the reverse order of lifting
        r = ret_of[e]
        if r >= 0:
            nxt[prv[r]] = r
            prv[nxt[r]] = r
            remaining += 1
        nxt[prv[e]] = e
        prv[nxt[e]] = e
        e = nxt[e]
    return True, [opid[x] for x, _ in stack], None, pushes + pops


def check_partition(
    key: Any, ops: list[Operation], model: Model, compiled: list[Any], deadline: float | None
) -> PartitionResult:
    t0 = time.perf_counter()
    try:
        ok, best, blocked, steps = search(ops, compiled, model, deadline)
    except TimedOut:
        return PartitionResult(key, UNKNOWN, ops, elapsed_s=time.perf_counter() - t0)
    res = PartitionResult(
        key,
        LINEARIZABLE if ok else NOT_LINEARIZABLE,
        ops,
        [ops[i].id for i in best],
        [],
        None if ok or blocked is None else ops[blocked].id,
        steps,
        time.perf_counter() - t0,
    )
    state = model.init()
    for i in best:
        state = model.step(state, compiled[i])
        res.states.append(show(state))
    return res
