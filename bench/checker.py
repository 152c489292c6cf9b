"""How fast is the linearizability checker, beside Porcupine run in the same benchmark?

    python -m bench.checker [--seed S] [--runs R] [--porcupine SRC] [--histories N]

Porcupine-shaped kv (measured side by side): a history in the shape of Porcupine's
published kv test data (harness.linear.generate.simulate_kv_appends: get/put/append, 50
clients, 10 keys, about 3,400 events, appends of unique strings, so values grow long),
linearizable, and the same history with a planted violation.  Both are written as JSONL
to a temporary directory and checked by us and by Porcupine (Go), built here from
bench/porcupine_kv/main.go against Porcupine's source:

- ``--porcupine SRC``: a checkout of github.com/anishathalye/porcupine, or a git
  directory of it (its HEAD is exported); built offline (GOFLAGS=-mod=mod, GOPROXY=off,
  a ``replace`` directive to that copy).  Also read from $PORCUPINE_SRC.
- otherwise the Go module proxy is asked for porcupine@latest.

With the source here, Porcupine's own published kv histories (test_data/kv/c50-ok.txt
and c50-bad.txt, read with our EDN importer) are checked side by side as well.

Go comes from Debian's ``golang-go``; when ``go`` is missing the apt-get line is printed
and only our side runs.  Times are CPU milliseconds of the best of R runs on each side
(the machine is shared, so wall time mostly measures the neighbours; Porcupine checks
partitions in parallel goroutines, and its CPU time counts all of them); the wall time
of Porcupine's best run is printed beside it.  The target is ours <= 1x Porcupine.

etcd-shaped CAS register (ours only): N histories like Jepsen's etcd ones (5 clients,
about 80 ops, 12 indeterminate, half with a planted violation).  The Go program here
models kv only, so these are not compared side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from harness.history import Op, dumps_jsonl
from harness.jepsen_formats import read_history
from harness.linear import NOT_LINEARIZABLE, UNKNOWN, check
from harness.linear.generate import plant_violation, simulate, simulate_kv_appends

TARGET = 1.0
GO_PROGRAM = Path(__file__).parent / "porcupine_kv" / "main.go"
PORCUPINE = "github.com/anishathalye/porcupine"
APT_LINE = "apt-get install -y golang-go"


class SetupError(Exception):
    """Porcupine cannot be built here; the message says why and what to do."""


def _time(ops: list[Op], model: str, timeout_s: float) -> tuple[float, str]:
    """CPU seconds of one check: the machine is shared, so wall time would mostly
    measure the neighbours (the wall-clock total is printed separately)."""
    t0 = time.process_time()
    r = check(ops, model, timeout_s=timeout_s)
    return time.process_time() - t0, r.verdict


def _porcupine_source(src: str, into: Path) -> Path:
    """A directory holding Porcupine's source, from a checkout or a git directory."""
    p = Path(src)
    if (p / "go.mod").is_file():
        return p
    if (p / "HEAD").is_file() or (p / ".git").exists():
        out = into / "porcupine"
        out.mkdir()
        git = ["git", f"--git-dir={p / '.git' if (p / '.git').exists() else p}"]
        tar = subprocess.run([*git, "archive", "--format=tar", "HEAD"], capture_output=True)
        if tar.returncode != 0:
            raise SetupError(f"cannot export {src}: {tar.stderr.decode().strip()}")
        tar_path = into / "porcupine.tar"
        tar_path.write_bytes(tar.stdout)
        with tarfile.open(tar_path) as t:
            t.extractall(out, filter="data")
        return out
    raise SetupError(f"{src} is neither a Porcupine checkout (no go.mod) nor a git directory")


def build_porcupine(work: Path, src: str | None) -> tuple[Path, Path | None]:
    """Build bench/porcupine_kv in ``work``: the path of the binary, and of Porcupine's
    source when it is local."""
    go = shutil.which("go")
    if go is None:
        raise SetupError(f"go is not installed; to measure Porcupine here: {APT_LINE}")
    prog = work / "prog"
    prog.mkdir()
    shutil.copy(GO_PROGRAM, prog / "main.go")
    env = dict(os.environ, GOFLAGS="-mod=mod")
    mod = f"module porcupinekv\n\ngo 1.16\n\nrequire {PORCUPINE} v0.0.0\n"
    source = None
    if src:
        env["GOPROXY"] = "off"
        source = _porcupine_source(src, work).resolve()
        mod += f"\nreplace {PORCUPINE} => {source}\n"
    else:  # the module proxy: latest release
        mod = "module porcupinekv\n\ngo 1.16\n"
    (prog / "go.mod").write_text(mod)
    steps = [] if src else [[go, "get", f"{PORCUPINE}@latest"]]
    steps.append([go, "build", "-o", "porcupine_kv", "."])
    for cmd in steps:
        try:
            r = subprocess.run(cmd, cwd=prog, env=env, capture_output=True, text=True,
                               timeout=120)
        except subprocess.TimeoutExpired:
            raise SetupError(f"{' '.join(cmd[1:3])} took over 120 s") from None
        if r.returncode != 0:
            hint = "" if src else (" (no module proxy? pass --porcupine with a checkout "
                                   f"or git directory of {PORCUPINE})")
            raise SetupError(f"{' '.join(cmd[1:3])} failed{hint}: {r.stderr.strip()[-600:]}")
    return prog / "porcupine_kv", source


def run_porcupine(binary: Path, history: Path, runs: int) -> dict[str, object]:
    r = subprocess.run([str(binary), "-runs", str(runs), str(history)],
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SetupError(f"porcupine_kv failed: {r.stderr.strip()}")
    return json.loads(r.stdout)


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


def bench_kv(args: argparse.Namespace) -> bool:
    """The side-by-side part; True when every verdict is right and the two agree."""
    cases: list[tuple[str, list[Op], str]] = []
    for seed in range(args.seed, args.seed + args.seeds):
        ok_ops = simulate_kv_appends(seed=seed)
        tag = f" s{seed}" if args.seeds > 1 else ""
        cases += [(f"linearizable{tag}", ok_ops, "linearizable"),
                  (f"violation{tag}", plant_violation(ok_ops, "kv"), NOT_LINEARIZABLE)]
    print(f"Porcupine-shaped kv: get/put/append, 50 clients, 10 keys, {len(ok_ops)} events, "
          f"values up to {max(len(str(o.value)) for o in ok_ops)} chars (seed {args.seed}"
          f"{f' to {args.seed + args.seeds - 1}' if args.seeds > 1 else ''}); "
          f"CPU ms, best of {args.runs}")
    with tempfile.TemporaryDirectory(prefix="bench-checker-") as tmp:
        work = Path(tmp)
        binary: Path | None = None
        try:
            binary, source = build_porcupine(work, args.porcupine)
        except SetupError as e:
            print(f"  porcupine: not measured: {e}")
        else:
            # Porcupine's own published kv histories (EDN with :get/:put/:append), when
            # its source is here: the shape above, as Porcupine's tests check it
            for name, expect in (("c50-ok", "linearizable"), ("c50-bad", NOT_LINEARIZABLE)):
                data = source / "test_data" / "kv" / f"{name}.txt" if source else None
                if data is not None and data.is_file():
                    ops = read_history(data, "jepsen-edn")
                    cases.append((f"published {name}", ops, expect))
        good = True
        for name, ops, expect in cases:
            path = work / f"{name.replace(' ', '-')}.jsonl"  # names are unique
            path.write_bytes(dumps_jsonl(ops))
            ours = [_time(ops, "kv", args.timeout) for _ in range(args.runs)]
            best = min(t for t, _ in ours) * 1000
            verdict = ours[0][1]
            good &= all(v == expect for _, v in ours)
            line = f"  {name:18} ours {best:8.1f} ms ({verdict})"
            if binary is not None:
                try:
                    g = run_porcupine(binary, path, args.runs)
                except (SetupError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
                    print(f"{line}   porcupine failed: {e}")
                    good = False
                    continue
                cpu, wall = g["cpu_ms"], g["wall_ms"]
                assert isinstance(cpu, list) and isinstance(wall, list)
                go_best = min(cpu)
                good &= g["verdict"] == expect
                ratio = best / go_best if go_best > 0 else float("inf")
                line += (f"   porcupine {go_best:8.1f} ms CPU, {min(wall):.1f} ms wall "
                         f"({g['verdict']})   ratio {ratio:.2f}x (target <= {TARGET}x)")
            print(line)
    return good


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.checker", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--histories", type=int, default=100, help="etcd-shaped histories")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1,
                   help="kv histories from seeds S, S+1, ...: the hard ones vary by seed")
    p.add_argument("--runs", type=int, default=5, help="runs of each kv check, each side")
    p.add_argument("--timeout", type=float, default=60.0, help="per check, seconds")
    p.add_argument("--porcupine", default=os.environ.get("PORCUPINE_SRC"),
                   help="Porcupine's source: a checkout or a git directory")
    args = p.parse_args(argv)
    if min(args.runs, args.histories, args.seeds) < 1:
        p.error("--runs, --seeds and --histories must be at least 1")

    good = bench_kv(args)

    wall0 = time.perf_counter()
    e = bench_etcd(args.histories, args.seed, args.timeout)
    print(f"etcd-shaped CAS register ({e['n']} histories, 5 clients, ~80 ops, 12 info; "
          "half with a planted violation; ours only)")
    print(f"  ours:      {e['min_ms']:.2f} - {e['max_ms']:.2f} ms CPU per history "
          f"(median {e['median_ms']:.2f} ms, total {e['total_s']:.2f} s CPU, "
          f"{time.perf_counter() - wall0:.2f} s wall)")
    if e["wrong"]:
        print(f"  WRONG VERDICTS: {e['wrong']}")
    return 0 if good and e["wrong"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
