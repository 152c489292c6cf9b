"""``crucible spec check [--deep] [SPEC...]``: model check the TLA+ specs with TLC.

The models and what each must give are listed in ``spec/manifest.json``: for every
model its module, config, tier (``ci`` or ``deep``), the expected verdict (``pass`` or
``violation`` of a named property, for the bug switches), the figures of the last run
(distinct states, depth) and a time budget.  Models run one after another (the CPU is
shared).  Exit code: 0 when every verdict is the expected one, 1 when a model gave the
wrong verdict (a violation in a correct model, or a bug switch TLC did not catch),
2 when TLC failed (parse error, evaluation error, timeout, no java).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson

from harness.tlc import Simulation, TlcResult, run_tlc

SPEC_DIR = Path(__file__).resolve().parent.parent / "spec"


@dataclass
class Model:
    name: str
    module: str  # file name of the .tla module TLC runs
    cfg: str
    tier: str  # "ci" | "deep"
    expect: str  # "pass" | "violation"
    property: str | None  # the property a bug switch must violate
    distinct: int | None
    depth: int | None
    budget_s: float
    simulate: Simulation | None
    note: str


def load_manifest(spec_dir: Path = SPEC_DIR) -> list[Model]:
    data = orjson.loads((spec_dir / "manifest.json").read_bytes())
    models = []
    for m in data["models"]:
        sim = m.get("simulate")
        models.append(
            Model(
                name=m["name"], module=m["module"], cfg=m["cfg"], tier=m.get("tier", "ci"),
                expect=m["expect"], property=m.get("property"), distinct=m.get("distinct"),
                depth=m.get("depth"), budget_s=float(m.get("budget_s", 120)),
                simulate=Simulation(**sim) if sim else None, note=m.get("note", ""),
            )
        )
    return models


def select(models: list[Model], names: list[str], deep: bool) -> list[Model]:
    """Names pick models by exact name or by spec prefix ("MonitorDelta" picks
    MonitorDelta and MonitorDelta_bug_*); no names means every model of the tier."""
    tiers = {"ci", "deep"} if deep else {"ci"}
    if not names:
        return [m for m in models if m.tier in tiers]
    chosen = []
    for m in models:
        for n in names:
            n = Path(n).stem if n.endswith((".tla", ".cfg")) else n
            # An exact name always runs (even a deep model); a prefix follows the tier.
            if m.name == n or (m.name.startswith(n + "_") and m.tier in tiers):
                chosen.append(m)
                break
    return chosen


def check_model(model: Model, spec_dir: Path = SPEC_DIR, timeout: float | None = None) -> TlcResult:
    # The timeout is a generous multiple of the budget: the budget is what the model
    # should take, the timeout only stops a run that went astray.
    limit = timeout if timeout is not None else max(60.0, 4 * model.budget_s)
    return run_tlc(spec_dir / model.module, spec_dir / model.cfg, timeout=limit,
                   simulate=model.simulate)


def judge(model: Model, res: TlcResult) -> int:
    """0 as expected, 1 wrong verdict, 2 error."""
    if res.verdict == "error":
        return 2
    if res.verdict != model.expect:
        return 1
    if model.expect == "violation" and model.property and res.property != model.property:
        return 1
    return 0


def report(model: Model, res: TlcResult, status: int, out=None, full: bool = False) -> None:
    out = out or sys.stdout
    mark = {0: "ok", 1: "WRONG", 2: "ERROR"}[status]
    want = model.expect + (f" of {model.property}" if model.property else "")
    print(f"[{mark}] {model.name}: {res.summary()} (expected {want})", file=out)
    if model.distinct is not None and res.distinct is not None and model.expect == "pass":
        if res.distinct != model.distinct and model.simulate is None:
            print(f"    note: {res.distinct} distinct states, manifest says {model.distinct}"
                  " (the spec or the model changed: update spec/manifest.json)", file=out)
    if res.verdict == "error":
        print("    " + res.message.replace("\n", "\n    "), file=out)
    if res.verdict == "violation":
        # An expected violation shows the path only; an unexpected one in full.
        print("    trace:", file=out)
        print("    " + res.trace_text(full=full or status != 0).replace("\n", "\n    "), file=out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="crucible spec",
        description="Model check the TLA+ specs (spec/manifest.json) with TLC.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    chk = sub.add_parser("check", help="run TLC on the CI-sized models (or --deep ones)")
    chk.add_argument("--deep", action="store_true", help="also run the deep models (long)")
    chk.add_argument("--list", action="store_true", help="list the selected models and stop")
    chk.add_argument("--full-trace", action="store_true",
                     help="print every state of a counterexample, not only the actions")
    chk.add_argument("--spec-dir", type=Path, default=SPEC_DIR, help=argparse.SUPPRESS)
    chk.add_argument("specs", nargs="*", metavar="SPEC",
                     help="model or spec names (e.g. MonitorDelta, OvsdbRaft_bug_prevote)")
    args = parser.parse_args(argv)

    try:
        models = select(load_manifest(args.spec_dir), args.specs, args.deep)
    except (OSError, KeyError, orjson.JSONDecodeError) as e:
        print(f"crucible spec check: cannot read {args.spec_dir}/manifest.json: {e}",
              file=sys.stderr)
        return 2
    if not models:
        print(f"crucible spec check: no model matches {' '.join(args.specs)!r}; "
              "see spec/manifest.json", file=sys.stderr)
        return 2
    if args.list:
        for m in models:
            print(f"{m.name:<32} {m.tier:<5} expect {m.expect:<9} {m.module} {m.cfg}")
        return 0

    worst = 0
    total = 0.0
    for i, m in enumerate(models, 1):
        print(f"({i}/{len(models)}) TLC {m.module} -config {m.cfg} ...", flush=True)
        res = check_model(m, args.spec_dir)
        status = judge(m, res)
        report(m, res, status, full=args.full_trace)
        total += res.seconds
        worst = max(worst, status)
    print(f"{len(models)} models, {total:.1f}s of TLC: "
          + {0: "all as expected", 1: "WRONG VERDICTS", 2: "ERRORS"}[worst])
    return worst
