"""Raft traces for trace validation: runs seeds of the cluster simulator and keeps the
events its nodes emitted, in the format harness/spec/raft_trace_validation.py reads
(``{"servers": [...], "events": [...]}``).

    python -m simulation.raft_trace --seeds 1-10 --steps 400 --out DIR
    python -m simulation.raft_trace --seeds 1-10 --check   # and validate them with TLC

Only runs without membership changes are exported (the trace module starts every server
as a member of the bootstrap configuration); ``trace_for`` says why it skips a seed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from reference.raft.node import NodeOptions
from simulation.raft_cluster import SimOptions, simulate

# Event fields naming a server.
SERVER_FIELDS = ("server", "follower", "leader", "candidate", "voter", "sender", "target")


def trace_for(seed: int, steps: int, prevote: bool = False,
              bugs: frozenset[str] = frozenset()) -> dict[str, Any] | str:
    """The trace of ``simulate(seed, steps)``, or why it cannot be validated.  With
    planted ``bugs`` (reference.raft.node.BUGS) the trace is kept even when the
    simulator's own checks caught the bug: trace validation must reject it too."""
    opts = SimOptions(node=NodeOptions(prevote=prevote, bugs=bugs))
    res = simulate(seed, steps, opts)
    if not res.ok and not bugs:
        return f"seed {seed}: the simulator found a violation: {res.violation}"
    if res.stats["joins"] or any(e["action"] == "ChangeMembership" for e in res.trace):
        return f"seed {seed}: membership changes (not validated)"
    servers = sorted({e[f] for e in res.trace for f in SERVER_FIELDS if e.get(f)})
    if len(servers) != res.stats["nodes"]:
        return f"seed {seed}: {len(servers)} of {res.stats['nodes']} servers seen in the trace"
    events = [{k: v for k, v in e.items() if k != "time"} | {"time": e["time"]}
              for e in res.trace]
    return {"seed": seed, "steps": steps, "prevote": prevote, "bugs": sorted(bugs),
            "violation": res.violation, "stats": res.stats,
            "servers": servers, "events": events}


def _count(trace: dict[str, Any], action: str) -> int:
    return sum(1 for e in trace["events"] if e["action"] == action)


def ci_traces(count: int = 10, min_events: int = 300, steps: int = 900,
              seeds: range = range(1, 400)) -> list[dict[str, Any]]:
    """The traces CI validates: the first seeds (with and without pre-vote, alternately)
    whose runs have at least ``min_events`` events, more than one election and
    forwarded commands; a third of them must also install a snapshot.  Chosen by
    scanning rather than fixed, so a change to the simulator's randomness still gives
    traces with this coverage; raises if the scan finds too few."""
    with_install: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    want_install = count // 3
    for seed in seeds:
        for prevote in (seed % 2 == 0, seed % 2 == 1):
            t = trace_for(seed, steps, prevote)
            if isinstance(t, str) or len(t["events"]) < min_events:
                continue
            if _count(t, "BecomeLeader") < 2 or not _count(t, "HandleForward"):
                continue
            if _count(t, "HandleInstallSnapshot") and len(with_install) < want_install:
                with_install.append(t)
            elif len(others) < count - want_install:
                others.append(t)
            break
        if len(with_install) == want_install and len(others) == count - want_install:
            return with_install + others
    raise RuntimeError(f"only {len(with_install)} traces with a snapshot install and "
                       f"{len(others)} others in seeds {seeds.start}-{seeds.stop - 1}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1-10")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--prevote", action="store_true")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--check", action="store_true", help="validate each trace with TLC")
    args = ap.parse_args(argv)
    lo, _, hi = args.seeds.partition("-")
    worst = 0
    for seed in range(int(lo), int(hi or lo) + 1):
        t = trace_for(seed, args.steps, args.prevote)
        if isinstance(t, str):
            print(t)
            continue
        line = f"seed {seed}: {len(t['events'])} events"
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            path = args.out / f"raft-trace-{seed}.json"
            path.write_bytes(orjson.dumps(t))
            line += f" -> {path}"
        if args.check:
            from harness.spec.raft_trace_validation import check_raft_trace

            v = check_raft_trace(t)
            line += f": {v.message} ({v.tlc.seconds:.1f} s)" if v.tlc else f": {v.message}"
            worst = max(worst, 0 if v.accepted else 1)
        print(line)
    return worst


if __name__ == "__main__":
    sys.exit(main())
