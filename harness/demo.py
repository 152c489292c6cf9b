"""``crucible demo`` (``make demo``): the main job in about half a minute.

A short fault campaign: five clients run a register workload against the embedded
reference server while it is killed (-9) and restarted, and paused and resumed; the
history is checked for linearizability and a report is written.  It ends by printing
the verdicts and the path of the report.  ``--target ovsdb-server --nodes 3`` runs the
same against a real 3-node Open vSwitch Raft cluster (with partitions, as root).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.campaign import (
    EXIT_INTERRUPTED,
    EXIT_UNUSABLE,
    CampaignConfig,
    config_problem,
    print_summary,
    run_campaign,
)
from harness.nemesis.schedule import parse_kinds
from harness.targets import KINDS

DEFAULT_TARGET = "reference"  # the embedded reference server (README: make demo)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="crucible demo", description=__doc__.split("\n")[0])
    p.add_argument("--target", choices=KINDS, default=DEFAULT_TARGET)
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--time", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--nemesis", default=None,
                   help="default: kill,pause (plus partition on a cluster)")
    p.add_argument("--out", default="out/demo")
    p.add_argument("--quiet", action="store_true")
    try:
        a = p.parse_args(argv)
    except SystemExit as e:
        return EXIT_UNUSABLE if e.code else 0
    nemesis = a.nemesis or ("kill,pause,partition" if a.nodes > 1 else "kill,pause")
    argv_echo = ["--target", a.target, "--nodes", str(a.nodes), "--workload", "register",
                 "--nemesis", nemesis, "--time", str(a.time), "--seed", str(a.seed),
                 "--out", a.out]
    try:
        kinds = parse_kinds(nemesis)
    except ValueError as e:
        print(f"crucible demo: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    cfg = CampaignConfig(target=a.target, workload="register", nemesis=kinds,
                         nodes=a.nodes, time_s=a.time, seed=a.seed, out=Path(a.out),
                         progress=not a.quiet, argv=argv_echo)
    problem = config_problem(cfg)
    if problem:  # before the banner: it would promise faults that cannot happen
        print(f"crucible demo: could not run: {problem}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(f"crucible demo: {a.time:g} s of register load on {a.target} x{a.nodes} "
          f"with faults {nemesis}, seed {a.seed}", flush=True)
    try:
        results = run_campaign(cfg)
    except KeyboardInterrupt:
        print("\ncrucible demo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, RuntimeError, TimeoutError, OSError) as e:
        print(f"crucible demo: could not run: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    print_summary(results, cfg.out)
    return EXIT_INTERRUPTED if results.get("interrupted") else int(results["exit"])
