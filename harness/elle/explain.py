"""Why an edge of the dependency graph is there, in plain words, and a cycle as the
argument Elle makes: each step "a < b because ...", then the contradiction."""

from __future__ import annotations

from harness.elle.graph import PROCESS, REALTIME, RW, WR, WW
from harness.elle.list_append import Analysis, _short


def why(an: Analysis, a: int, b: int, bit: int) -> str:
    ta, tb = an.txns[a], an.txns[b]
    if bit == WW:
        for k, elems in ta.appends.items():
            vs = an.order.get(k, [])
            for e in elems:
                i = an.position.get((k, e))
                if i is not None and i + 1 < len(vs) and an.writer.get((k, vs[i + 1])) == b:
                    return (f"T{b} appended {vs[i + 1]} to key {k} right after T{a}'s "
                            f"append of {e}")
    if bit == WR:
        for k, v in an.ext_reads.get(b, {}).items():
            if v and an.writer.get((k, v[-1])) == a:
                return f"T{b} read key {k} = {_short(v)}, which ends in T{a}'s append of {v[-1]}"
    if bit == RW:
        for k, v in an.ext_reads.get(a, {}).items():
            vs = an.order.get(k, [])
            if len(vs) > len(v) and an.writer.get((k, vs[len(v)])) == b:
                return (f"T{a} read key {k} = {_short(v)} and did not see T{b}'s append of "
                        f"{vs[len(v)]}, the element that came next")
    if bit == PROCESS:
        return (f"process {ta.process} ran T{a} (history {ta.call_index}) and then T{b} "
                f"(history {tb.call_index})")
    if bit == REALTIME:
        return (f"T{a} completed (history {ta.return_index}) before T{b} was invoked "
                f"(history {tb.call_index})")
    return "?"


def cycle_text(an: Analysis, steps: list[dict]) -> str:
    ids = [s["from"] for s in steps]
    lets = "; ".join(f"T{i} = {an.txns[i].text()}" for i in ids)
    then = "; ".join(f"T{s['from']} < T{s['to']} ({s['type']}): {s['why']}" for s in steps)
    return (f"Let {lets}. Then {then}. So T{ids[0]} must come before itself: no order of "
            "these transactions explains what they saw.")
