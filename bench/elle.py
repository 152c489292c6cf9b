"""How long does the list-append checker take, and does it grow near linearly?

    python -m bench.elle [--sizes 1000,10000,100000] [--seed S]

For each size, a history from the simulated strict serializable store
(``harness.elle.generate.simulate``: 5 processes, 3 active keys rotated every 32
appends, transactions of up to 4 micro-ops, 2% failed, 2% indeterminate), checked
as it is (valid) and with 1% of transactions reading a version behind (full of cycles
to find).  Prints the best of 3 CPU times per check and the growth per tenfold size
(Elle checks about 100,000 transactions in seconds; near linear is about 10x).
"""

from __future__ import annotations

import argparse
import time

from harness.elle import check
from harness.elle.generate import simulate


def best_cpu(fn, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.elle")
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",")]
    print(f"{'transactions':>12} {'valid (s)':>10} {'growth':>7} {'stale 1% (s)':>13} "
          f"{'growth':>7}  anomalies found in the stale one")
    last: tuple[float, float] | None = None
    for n in sizes:
        good = simulate(n, a.seed)
        bad = simulate(n, a.seed, stale=0.01)
        assert check(good).validity == "valid"
        found = check(bad)
        t_good = best_cpu(lambda h=good: check(h))
        t_bad = best_cpu(lambda h=bad: check(h))
        grow = ("" if last is None else f"{t_good / last[0]:6.1f}x",
                "" if last is None else f"{t_bad / last[1]:6.1f}x")
        print(f"{n:>12,} {t_good:>10.2f} {grow[0]:>7} {t_bad:>13.2f} {grow[1]:>7}  "
              f"{', '.join(found.anomaly_types)}", flush=True)
        last = (t_good, t_bad)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
