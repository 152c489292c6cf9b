"""How fast is the linearizability checker, beside Porcupine's published figures?

    python -m bench.checker [--histories N] [--seed S]

Two workloads, generated (harness.linear.generate) in the shapes Porcupine reports on:

- Jepsen's etcd histories: a single CAS register, 5 clients, about 80 ops, about 12 of
  them indeterminate (timed out), values 0-4.  Porcupine (Go) checks each of the 102
  etcd histories in 0.07-150 ms.  We time N such histories, half of them with a planted
  violation (Jepsen's set has both kinds; a violation makes the search exhaust its key).
- A 50-client key-value history of about 2,000 ops, partitioned by key (get/put/append,
  as the MIT 6.824 histories Porcupine uses): Porcupine takes about 0.2 s.

There is no Go toolchain here, so the Porcupine figures are the published reference
numbers, not measured in this run.  The target is to stay within 3x of them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from harness.linear import NOT_LINEARIZABLE, UNKNOWN, check
from harness.linear.generate import plant_violation, simulate

PORCUPINE_ETCD_MS = (0.07, 150.0)
PORCUPINE_KV_S = 0.2
TARGET = 3.0


def _time(ops, model: str, timeout_s: float) -> tuple[float, str]:
    """CPU seconds of one check: the machine is shared, so wall time would mostly
    measure the neighbours (the wall-clock total is printed separately)."""
    t0 = time.process_time()
    r = check(ops, model, timeout_s=timeout_s)
    return time.process_time() - t0, r.verdict


def bench_etcd(n: int, seed: int, timeout_s: float) -> dict[str, float]:
    times: list[float] = []
    wrong = 0
    for i in range(n):
        ops = simulate("cas-register", clients=5, ops=80, info=12, values=5,
                       seed=seed + i, latency=1.0)
        bad = i % 2 == 1
        if bad:
            ops = plant_violation(ops, "cas-register")
        dt, verdict = _time(ops, "cas-register", timeout_s)
        times.append(dt * 1000)
        expect = NOT_LINEARIZABLE if bad else "linearizable"
        wrong += verdict != expect and verdict != UNKNOWN
        wrong += verdict == UNKNOWN
    return {"n": n, "min_ms": min(times), "median_ms": statistics.median(times),
            "max_ms": max(times), "total_s": sum(times) / 1000, "wrong": wrong}


def bench_kv(seed: int, timeout_s: float, keys: int = 10) -> dict[str, float]:
    ops = simulate("kv", clients=50, ops=2000, info=40, keys=keys, values=10, seed=seed)
    dt, verdict = _time(ops, "kv", timeout_s)
    bad = plant_violation(ops, "kv")
    dt_bad, verdict_bad = _time(bad, "kv", timeout_s)
    return {"ok_s": dt, "ok_verdict": verdict, "bad_s": dt_bad, "bad_verdict": verdict_bad,
            "events": len(ops), "keys": keys}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.checker", description=__doc__)
    p.add_argument("--histories", type=int, default=100, help="etcd-shaped histories")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=30.0, help="per history, seconds")
    args = p.parse_args(argv)

    wall0 = time.perf_counter()
    e = bench_etcd(args.histories, args.seed, args.timeout)
    lo, hi = PORCUPINE_ETCD_MS
    print(f"etcd-shaped CAS register ({e['n']} histories, 5 clients, ~80 ops, 12 info; "
          "half with a planted violation)")
    print(f"  ours:      {e['min_ms']:.2f} - {e['max_ms']:.2f} ms CPU per history "
          f"(median {e['median_ms']:.2f} ms, total {e['total_s']:.2f} s CPU, "
          f"{time.perf_counter() - wall0:.2f} s wall)")
    print(f"  porcupine: {lo} - {hi} ms per history (published)")
    wrong = "" if e["wrong"] == 0 else f"   WRONG VERDICTS: {e['wrong']}"
    print(f"  ratio of worst cases: {e['max_ms'] / hi:.2f}x  (target <= {TARGET}x){wrong}")

    k = bench_kv(args.seed, args.timeout)
    print(f"kv, 50 clients, {k['events']} events ({k['keys']} keys, partitioned by key)")
    print(f"  ours:      {k['ok_s']:.3f} s CPU linearizable ({k['ok_verdict']}), "
          f"{k['bad_s']:.3f} s with a planted violation ({k['bad_verdict']})")
    print(f"  porcupine: ~{PORCUPINE_KV_S} s (published)")
    print(f"  ratio: {max(k['ok_s'], k['bad_s']) / PORCUPINE_KV_S:.2f}x  (target <= {TARGET}x)")
    ok = e["wrong"] == 0 and k["ok_verdict"] == "linearizable" and \
        k["bad_verdict"] == NOT_LINEARIZABLE
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
