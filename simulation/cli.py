"""``crucible simulate``: the whole-cluster Raft simulator (raft_cluster) over many seeds,
in this process or a pool of them, with the rate at the end.

    crucible simulate [--seeds 1-1000[,5000-5100,7]] [--steps N] [--bug NAME]...
                      [--nodes N] [--prevote] [--jobs N] [--quiet]

Seeds run in order; the first one (in seed order, whatever --jobs is) that breaks a
property stops the run: it prints the violation, the command line that reproduces it and
the tail of its schedule.  Exit 0 when every seed passes, 1 on a violation (with --bug:
the planted bug was caught), 2 on a usage error (one line), 3 when --bug planted a bug
that no seed caught: a simulator that misses a planted bug must not look like a pass.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any, NamedTuple

from reference.raft.node import BUGS, NodeOptions
from simulation.raft_cluster import DEFAULT_STEPS, SimOptions, simulate

# Counters of SimResult.stats summed over the seeds (the rest describe one cluster).
TOTALS = ("elections", "crashes", "snapshots", "installs", "joins", "transfers",
          "proposed", "acked", "messages")
MAX_SEEDS = 10_000_000


class UsageError(Exception):
    """A bad command line; the message is the one line printed."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own errors: one line, exit 2
        raise UsageError(message)


class Outcome(NamedTuple):
    """What a worker sends back for one seed (not the trace: it can be large)."""

    seed: int
    ok: bool
    steps: int
    stats: dict[str, int]
    report: list[str]          # for a failing seed: header line, then the schedule tail


def parse_seeds(text: str) -> list[int]:
    """``A-B``, ``N`` or a comma list of them, in the order given, no seed twice."""
    out: list[int] = []
    seen: set[int] = set()
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise UsageError(f"--seeds {text!r}: expected A-B, N or a comma list of "
                             f"them (e.g. 1-5000,7000)") from None
        if first < 0 or last < first:
            raise UsageError(f"--seeds {text!r}: {part.strip()!r} is not a range of "
                             f"seeds >= 0")
        if len(out) + last - first + 1 > MAX_SEEDS:
            raise UsageError(f"--seeds {text!r}: more than {MAX_SEEDS} seeds")
        for seed in range(first, last + 1):
            if seed not in seen:
                seen.add(seed)
                out.append(seed)
    return out


def _parser() -> _Parser:
    ap = _Parser(prog="crucible simulate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="1-1000", help="A-B, N, or a comma list of them")
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="events per seed")
    ap.add_argument("--bug", action="append", default=[],
                    help=f"plant a bug in the node: {', '.join(sorted(BUGS))}")
    ap.add_argument("--nodes", type=int, default=0,
                    help="members at the start (default: each seed draws 3 or 5)")
    ap.add_argument("--prevote", action="store_true", help="the node's pre-vote (OVS 3.3)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--quiet", action="store_true",
                    help="no progress lines and no schedule: verdict and rate only")
    return ap


def _check(args: argparse.Namespace) -> list[int]:
    unknown = [b for b in args.bug if b not in BUGS]
    if unknown:
        raise UsageError(f"unknown planted bug {unknown[0]!r}; valid: "
                         f"{', '.join(sorted(BUGS))}")
    if args.steps < 1:
        raise UsageError(f"--steps {args.steps}: must be at least 1")
    if args.nodes and not 3 <= args.nodes <= 9:
        raise UsageError(f"--nodes {args.nodes}: must be 3 to 9 (partitions need 3)")
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    return parse_seeds(args.seeds)


def run_seed(job: tuple[int, int, SimOptions]) -> Outcome:
    seed, steps, opts = job
    res = simulate(seed, steps, opts)
    report = [] if res.ok else [res.headline(), *res.tail(60)]
    return Outcome(seed, res.ok, res.steps, res.stats, report)


def outcomes(seeds: list[int], steps: int, opts: SimOptions, jobs: int) -> Iterator[Outcome]:
    """The seeds' outcomes in seed order; a pool of ``jobs`` processes when jobs > 1
    (stopped when the caller stops reading)."""
    work = ((seed, steps, opts) for seed in seeds)
    if jobs == 1 or len(seeds) == 1:
        yield from map(run_seed, work)
        return
    # Chunks of a few seeds: little pipe traffic per seed (one takes ~20 ms), and when
    # one fails the pool has not run far past it.
    chunk = max(1, min(8, len(seeds) // (8 * jobs)))
    pool = multiprocessing.get_context("fork").Pool(jobs)
    try:
        yield from pool.imap(run_seed, work, chunksize=chunk)
    finally:
        pool.terminate()
        pool.join()


def reproduce(seed: int, args: argparse.Namespace) -> str:
    words = ["crucible simulate", f"--seeds {seed}", f"--steps {args.steps}"]
    words += [f"--bug {b}" for b in args.bug]
    if args.nodes:
        words.append(f"--nodes {args.nodes}")
    if args.prevote:
        words.append("--prevote")
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
        seeds = _check(args)
    except UsageError as e:
        print(f"crucible simulate: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:      # --help
        return int(e.code or 0)
    opts = SimOptions(nodes=args.nodes, node=NodeOptions(prevote=args.prevote,
                                                         bugs=frozenset(args.bug)))
    totals = dict.fromkeys(TOTALS, 0)
    progress_every = max(1, len(seeds) // 10)
    started = time.monotonic()
    n = steps = 0
    failed: Outcome | None = None
    with closing(outcomes(seeds, args.steps, opts, args.jobs)) as results:
        for out in results:
            n += 1
            steps += out.steps
            for k in TOTALS:
                totals[k] += out.stats.get(k, 0)
            if not out.ok:
                failed = out
                break
            if not args.quiet and n % progress_every == 0 and n < len(seeds):
                print(f"  {n} of {len(seeds)} seeds ok "
                      f"({time.monotonic() - started:.1f} s)", flush=True)
    took = max(time.monotonic() - started, 1e-9)
    if failed is not None:
        print(failed.report[0])
        print(f"reproduce: {reproduce(failed.seed, args)}")
        if not args.quiet:
            print(f"schedule (last {len(failed.report) - 1} steps):")
            print("\n".join(failed.report[1:]))
    print(f"{n} schedules of up to {args.steps} steps in {took:.1f} s with {args.jobs} "
          f"job(s): {n / took:.1f} schedules/s, {steps / took:,.0f} steps/s")
    if not args.quiet:
        print("over all seeds: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    if failed is not None:
        if args.bug:
            print(f"planted bug {'+'.join(args.bug)} caught at seed {failed.seed}, "
                  f"after {n} seed(s)")
        return 1
    if args.bug:
        print(f"planted bug not caught in {n} seeds: {'+'.join(args.bug)}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
