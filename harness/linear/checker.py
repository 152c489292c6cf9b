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

Beyond Lowe: indeterminate ops otherwise make the search explode (each may be placed
at any point, or never).  A configuration (L, s) is *dominated* by (L', s) when L' lacks
some of L's indeterminate ops and is otherwise equal: whatever can follow (L, s) can
follow (L', s), where the missing ops simply never happen.  Hence these prunings:

1. an indeterminate op that would leave the state unchanged is not placed;
2. a blind write (its new state ignores the old) is not placed right after an
   indeterminate op, which it would erase: the sibling branch without that op dominates;
3. the memo maps (determinate part, state) to the indeterminate parts seen with it, and
   a configuration is skipped when one of those is a subset of its own (the dominating
   configuration has failed, or is an ancestor whose other branches cover this one);
4. indeterminate ops with the same compiled form (two timed-out ``write 3``) are
   interchangeable once both are called: only the earliest unplaced one is tried;
5. an indeterminate op is dead once every op that could observe it (the model says
   which) is placed: it is never tried again and counts as used in the memo.

Two more, for reads (ops the model calls *pure*: they leave the state or are refused):

6. a determinate read that is a candidate and accepts the state is placed at once and
   nothing else is tried in that configuration (any linearization from it can move the
   read to the front), so concurrent reads never multiply the branches;
7. a read still to be placed can only be preceded by ops called before it returns: once
   all of those that are not *growing* (for kv: all but appends) are placed, a state
   the read's value cannot grow from (not a prefix of it) has no future.  This is what
   keeps append-heavy histories from trying every order of concurrent appends.

Indeterminate ops sit in a list of their own, so scans never walk over the many that
are never placed.  The order in which candidates are tried matters for speed only:
call order (with the op whose return comes first tried before the rest) sometimes meets
a linearization sooner, determinate-first makes dominating configurations come first
and so refutes soonest; :func:`portfolio` runs both with growing step budgets.
:func:`search_lowe` is the plain algorithm, kept as the reference the differential
tests hold the others to.

The deepest point the search reached is kept for the report: the ops linearized there
(the longest linearizable prefix found) and the op whose return stopped it (the op that
could not be placed).
"""

from __future__ import annotations

import time
from bisect import bisect_left
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


def search_lowe(
    ops: list[Operation],
    compiled: list[Any],
    model: Model,
    deadline: float | None = None,
) -> tuple[bool, list[int], int | None, int]:
    """The plain algorithm (one list, exact memo), kept as the reference that the
    differential tests hold :func:`search` to.  Same arguments and results."""
    n = len(ops)
    # Entries 1..m (a call and maybe a return per op), 0 = head, m+1 = tail sentinel.
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
    state: Any = model.search_init()
    lin = 0
    stack: list[tuple[int, Any]] = []
    seen: set[tuple[int, Any]] = set()
    best: list[int] = []
    blocked: int | None = None
    steps = pops = 0
    e = nxt[0]
    while remaining:
        if is_call[e]:
            i = opid[e]
            new = fns[i](state)
            if new is not INVALID:
                bits = lin | (1 << i)
                if (bits, new) not in seen:
                    seen.add((bits, new))
                    steps += 1
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
            return False, best, blocked, steps
        steps += 1
        pops += 1  # its own counter: steps also counts pushes and could skip past 1024k
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
    return True, [opid[x] for x, _ in stack], None, steps


class StepLimit(Exception):
    pass


def search(
    ops: list[Operation],
    compiled: list[Any],
    model: Model,
    deadline: float | None = None,
    det_first: bool = True,
    max_steps: int = 1 << 62,
) -> tuple[bool, list[int], int | None, int]:
    """Run the search over ``ops`` (with ``compiled[i]`` the model's form of ``ops[i]``).

    Returns (linearizable, best prefix as positions in ``ops``, blocked position or None,
    steps taken).  Raises TimedOut when ``deadline`` (time.monotonic) passes.

    Determinate ops live in one linked list of calls and returns; indeterminate ops
    (no return) in a second list of calls, so a scan never walks over the ones that
    are never placed.  The candidates at each configuration are the determinate calls
    before the first return and the indeterminate calls made before it.  Which come
    first matters only for speed: in call order (``det_first=False``) the search
    usually meets a linearization quickly; with the determinate ones first, the
    configurations without indeterminate ops tend to be visited before those with
    them, which the dominance memo needs to prune hard when there is no
    linearization.  Raises StepLimit after ``max_steps`` placements.
    """
    n = len(ops)
    det = [i for i, o in enumerate(ops) if o.return_index is not None]
    ind = [i for i, o in enumerate(ops) if o.return_index is None]

    # Determinate list: entries 1..m, head 0, tail m+1 (a sentinel that acts as a return).
    events = sorted([(ops[i].call_index, i, True) for i in det]
                    + [(ops[i].return_index, i, False) for i in det])  # type: ignore[misc]
    m = len(events)
    tail = m + 1
    nxt = list(range(1, m + 2)) + [tail]
    prv = [0] + list(range(0, m + 1))
    is_call = [False] * (m + 2)
    opid = [-1] * (m + 2)
    pos = [0] * (m + 2)  # history index of each entry
    ret_of = [-1] * (m + 2)
    call_entry = [0] * n
    for e, (ix, i, call) in enumerate(events, start=1):
        is_call[e], opid[e], pos[e] = call, i, ix
        if call:
            call_entry[i] = e
        else:
            ret_of[call_entry[i]] = e
    pos[tail] = 1 << 62

    # Indeterminate list, by call index: entries 1..k, head 0, tail k+1.
    ind.sort(key=lambda i: ops[i].call_index)
    k = len(ind)
    itail = k + 1
    inxt = list(range(1, k + 2)) + [itail]
    iprv = [0] + list(range(0, k + 1))
    iop = [-1] + ind + [-1]
    ipos = [0] + [ops[i].call_index for i in ind] + [1 << 62]

    fns = [model.transition(c) for c in compiled]
    blind = [model.blind(c) for c in compiled]
    # A determinate read that accepts the state is placed at once, and nothing else is
    # tried in that configuration: any linearization from here can move it to the front
    # (it is called already, every unplaced op returns after its call, and it leaves the
    # state as it is), so if placing it fails, the configuration fails.
    pure = [model.pure(c) for c in compiled]
    any_pure = any(pure[i] for i in det)
    def stuck(i: int, state: Any, lin: int) -> bool:
        """Read i cannot be placed after the configuration (lin, state)."""
        goal = goals[i]
        if goal(state):
            return False
        # unless a reset still to come (a put) writes a value it can grow from
        pend = resets[i] & ~lin
        while pend:
            low = pend & -pend
            j = low.bit_length() - 1
            if not blind[j] or goal(fns[j](state)):
                return False
            pend ^= low
        return True

    # A read still to be placed can only be preceded by ops called before it returns.
    # Of those, the ones that are neither growing (an append) nor pure are resets; the
    # last one placed before the read, if any, sets the state the appends then grow.
    # When the read's goal fails on the state now and on what each reset still to come
    # writes (all blind writes, a put), the configuration has no future.  goals[i]: that
    # test; resets[i]: the resets that could come before the read.
    goals: list[Any] = [None] * n
    resets = [0] * n
    if any(model.grows(c) for c in compiled):
        resetters = sorted((ops[j].call_index, j) for j in range(n)
                           if not model.grows(compiled[j]) and not pure[j])
        before = [0]  # before[t]: the first t resetters, by call
        for _, j in resetters:
            before.append(before[-1] | (1 << j))
        calls = [ix for ix, _ in resetters]
        for i in det:
            if pure[i]:
                goals[i] = model.goal(compiled[i])
                resets[i] = before[bisect_left(calls, ops[i].return_index)]
    any_goal = any(g is not None for g in goals)
    # Indeterminate ops with the same compiled form are interchangeable once both have
    # been called: of those, only the earliest unplaced one is ever tried.
    twins: list[list[int]] = [[] for _ in range(k + 2)]  # info entry -> earlier twins
    by_form: dict[Any, list[int]] = {}
    for x in range(1, k + 1):
        try:
            group = by_form.setdefault(compiled[iop[x]], [])
        except TypeError:  # an unhashable form: no twins
            continue
        twins[x] = list(group)
        group.append(x)
    placed = [False] * (k + 2)
    info_mask = sum(1 << i for i in ind)
    det_mask = ((1 << n) - 1) ^ info_mask
    # An indeterminate op matters only while some unplaced op "observes" it (the model
    # says which: for a blind write, the ops that accept the state it writes and are
    # not blind themselves; for a set's add, the reads containing the element).  Once
    # all its observers are placed it is dead: never tried, and counted as used in the
    # memo, so configurations differing only in dead ops are one.  Only ops whose
    # observers are all determinate are tracked (their death then depends on the
    # determinate part alone, which keeps the memo consistent).
    mortal: list[tuple[int, int]] = []  # (bit of the op, mask of its observers)
    mortal_obs: dict[int, int] = {}
    for x in range(1, k + 1):
        i = iop[x]
        obs = model.observers(i, compiled, fns)
        if obs is None:
            continue
        if not obs & info_mask:
            mortal.append((1 << i, obs))
            mortal_obs[i] = obs
    # memo: (determinate part of the linearized set, state) -> the indeterminate parts
    # seen with it; a configuration is skipped if one of those is a subset of its own.
    memo: dict[tuple[int, Any], list[int]] = {}
    state: Any = model.search_init()
    lin = 0
    remaining = len(det)
    # stack entries: (how: 0 determinate, 1 indeterminate, 2 determinate tried first,
    #                 3 a read placed as the only move, entry, state before, the other
    #                 list's scan position, the entry the configuration it was placed
    #                 from skips)
    stack: list[tuple[int, int, Any, int, int]] = []
    best: list[int] = []
    blocked: int | None = None
    steps = pops = 0
    e, f = nxt[0], inxt[0]
    # In call order, each configuration first tries the op whose return comes first
    # (it must be placed before anything called after that return, and is usually
    # among the first to take effect), then scans the rest, skipping it.
    first, skip = not det_first, 0
    forced = any_pure
    refuted = False  # backtracking from a refuted read: no new deepest point to report
    while remaining:
        if forced:
            forced = False
            r = nxt[0]
            fit = 0
            while is_call[r]:
                i = opid[r]
                if pure[i]:
                    if fns[i](state) is not INVALID:
                        fit = fit or r
                    elif goals[i] is not None and stuck(i, state, lin):
                        break
                r = nxt[r]
            else:
                if not any_goal:
                    r = tail
                # and the first read not called yet: it will be placed after what has to
                # be placed before it, so it must be reachable too
                while r != tail and not (is_call[r] and goals[opid[r]] is not None):
                    r = nxt[r]
                if r != tail and not stuck(opid[r], state, lin):
                    r = tail
            if r != tail:
                # that read is the op that cannot be placed after this prefix
                if len(stack) > len(best) or blocked is None:
                    best = [iop[x] if p == 1 else opid[x] for p, x, _, _, _ in stack]
                    blocked = opid[r]
                e, f, refuted = tail, itail, True
                continue
            if not fit:
                continue  # no read fits: the usual candidates, in the usual order
            e = fit
            phase = 3
            i = opid[e]
        elif first:
            first = False
            r = nxt[0]
            while is_call[r]:
                r = nxt[r]
            e = skip = call_entry[opid[r]]
            phase = 2
            i = opid[e]
        # The next candidate: the det entry e if it is a call, and the indeterminate
        # calls made before e (before the first return, if e is one).  In call order,
        # or (det_first) all determinate calls before any indeterminate one.
        elif is_call[e] and (det_first or ipos[f] > pos[e]):
            if e == skip:
                e = nxt[e]
                continue
            phase = 0
            i = opid[e]
        elif ipos[f] < pos[e]:
            phase = 1
            i = iop[f]
            if (i in mortal_obs and not mortal_obs[i] & ~lin) or any(
                not placed[t] for t in twins[f]
            ):
                # dead (nothing left could observe what it writes), or an earlier
                # interchangeable twin is a candidate here too
                f = inxt[f]
                continue
        else:  # backtrack
            # (not where a blind write was refused after an indeterminate op: a sibling
            # branch without that op goes further, so this is no op "that cannot be
            # placed")
            if not refuted and (len(stack) > len(best) or blocked is None) and not (
                stack and stack[-1][0] == 1 and e != tail and blind[opid[e]]
            ):
                best = [iop[x] if p == 1 else opid[x] for p, x, _, _, _ in stack]
                blocked = opid[e] if e != tail else None
            refuted = False
            if not stack:
                return False, best, blocked, steps
            steps += 1
            pops += 1  # its own counter: steps also counts pushes and could skip past 1024k
            if deadline is not None and not pops & 1023 and time.monotonic() > deadline:
                raise TimedOut
            phase, x, state, other, skip = stack.pop()
            while phase == 3:  # the read was the only move: its configuration failed too
                i = opid[x]
                r = ret_of[x]
                nxt[prv[r]] = r
                prv[nxt[r]] = r
                nxt[prv[x]] = x
                prv[nxt[x]] = x
                remaining += 1
                lin &= ~(1 << i)
                if not stack:
                    return False, best, blocked, steps
                phase, x, state, other, skip = stack.pop()
            if phase != 1:
                i = opid[x]
                r = ret_of[x]
                nxt[prv[r]] = r
                prv[nxt[r]] = r
                nxt[prv[x]] = x
                prv[nxt[x]] = x
                remaining += 1
                if phase == 0:
                    e, f = nxt[x], other
                else:  # the op tried first: now the rest, in order, without it
                    e, f, skip = nxt[0], inxt[0], x
            else:
                i = iop[x]
                inxt[iprv[x]] = x
                iprv[inxt[x]] = x
                placed[x] = False
                e, f = other, inxt[x]
            lin &= ~(1 << i)
            continue
        # A blind write right after an indeterminate op erases it: the result is
        # dominated by placing the write without that op, a sibling branch.
        new = INVALID if blind[i] and stack and stack[-1][0] == 1 else fns[i](state)
        # An indeterminate op that leaves the state as it is leads to a configuration
        # dominated by the current one: never worth placing.
        if new is not INVALID and not (phase == 1 and new == state):
            bits = lin | (1 << i)
            key = (bits & det_mask, new)
            im = bits & info_mask
            for bit, obs in mortal:
                if not obs & ~bits:
                    im |= bit
            seen = memo.get(key)
            fresh = True
            if seen is None:
                memo[key] = [im]
            else:
                for s_im in seen:
                    if not s_im & ~im:
                        fresh = False
                        break
                else:
                    seen.append(im)
            if fresh:
                steps += 1
                if steps > max_steps:
                    raise StepLimit
                if phase != 1:  # lift the call and its return
                    stack.append((phase, e, state, f, skip))
                    nxt[prv[e]] = nxt[e]
                    prv[nxt[e]] = prv[e]
                    r = ret_of[e]
                    nxt[prv[r]] = nxt[r]
                    prv[nxt[r]] = prv[r]
                    remaining -= 1
                else:
                    stack.append((1, f, state, e, skip))
                    inxt[iprv[f]] = inxt[f]
                    iprv[inxt[f]] = iprv[f]
                    placed[f] = True
                state, lin = new, bits
                e, f = nxt[0], inxt[0]
                first, skip, forced = not det_first, 0, any_pure
                continue
        if phase == 3:  # that configuration (or one dominating it) failed already
            e, f, refuted = tail, itail, True
            continue
        if phase == 0:
            e = nxt[e]
        elif phase == 1:
            f = inxt[f]
        else:  # the op tried first did not fit: scan the rest
            e, f = nxt[0], inxt[0]
    return True, [iop[x] if p == 1 else opid[x] for p, x, _, _, _ in stack], None, steps


def portfolio(
    ops: list[Operation], compiled: list[Any], model: Model, deadline: float | None
) -> tuple[bool, list[int], int | None, int]:
    """Run both candidate orders of :func:`search` in turn with growing step budgets.

    Call order sometimes finds linearizations sooner, determinate-first refutes
    fastest, and neither is known in advance; restarting with budgets growing 4x costs at most a
    small factor over the better of the two.  Steps of abandoned runs are counted.
    """
    budget, spent = 4000, 0
    while True:
        # determinate-first gets the larger share: with reads placed as soon as they fit
        # (and dropped states whose reads can no longer be met) it finds linearizations
        # fastest too, on the etcd- and Porcupine-shaped benches alike
        for det_first, share in ((True, budget), (False, budget // 4)):
            try:
                ok, best, blocked, steps = search(
                    ops, compiled, model, deadline, det_first=det_first, max_steps=share
                )
                return ok, best, blocked, spent + steps
            except StepLimit:
                spent += share
        budget *= 4


def check_partition(
    key: Any, ops: list[Operation], model: Model, compiled: list[Any], deadline: float | None
) -> PartitionResult:
    t0 = time.perf_counter()
    try:
        ok, best, blocked, steps = portfolio(ops, compiled, model, deadline)
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
