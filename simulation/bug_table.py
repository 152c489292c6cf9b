"""How many seeds the simulator needs to catch each planted bug: for each bug and each
start offset, the number of seeds run (from the offset on) until the first violation.
The README's table comes from here; it takes minutes, so it is not part of the tests.

    python -m simulation.bug_table [--steps N] [--offsets 1,1001,...] [--limit N] [--jobs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import closing

from reference.raft.node import BUGS, NodeOptions
from simulation.cli import outcomes
from simulation.raft_cluster import DEFAULT_STEPS, SimOptions


def seeds_to_catch(bug: str, start: int, limit: int, steps: int, jobs: int) -> int | None:
    """Seeds run from ``start`` until ``bug`` is caught (None: not within ``limit``)."""
    opts = SimOptions(node=NodeOptions(bugs=frozenset({bug})))
    seeds = list(range(start, start + limit))
    with closing(outcomes(seeds, steps, opts, jobs)) as results:
        for n, out in enumerate(results, 1):
            if not out.ok:
                return n
    return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--offsets", default="1,1001,2001,3001,4001")
    ap.add_argument("--limit", type=int, default=3000, help="seeds tried per offset")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--bug", action="append", help="only these bugs")
    args = ap.parse_args(argv)
    offsets = [int(x) for x in args.offsets.split(",")]
    print(f"steps per seed {args.steps}; start offsets {offsets}")
    print("| planted bug | seeds to catch, per offset | median | worst |")
    print("| --- | --- | --- | --- |")
    for bug in sorted(args.bug or BUGS):
        started = time.monotonic()
        got = [seeds_to_catch(bug, o, args.limit, args.steps, args.jobs) for o in offsets]
        known = [g if g is not None else args.limit + 1 for g in got]
        shown = ", ".join(str(g) if g is not None else f">{args.limit}" for g in got)
        worst = max(known)
        print(f"| {bug} | {shown} | {statistics.median(known):g} | "
              f"{worst if worst <= args.limit else f'>{args.limit}'} | "
              f"({time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
