"""``crucible spec check [--deep] [SPEC...]``: model check the TLA+ specs with TLC.

The models and what each must give are listed in ``spec/manifest.json`` (read by
``harness.spec.manifest``).  Models run one after another (the CPU is shared).  Exit
code: 0 when every verdict is the expected one, 1 when a model gave the wrong verdict (a
violation in a correct model, or a bug switch TLC did not catch), 2 when TLC failed
(parse error, evaluation error, timeout, no java).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from harness.spec import SPEC_DIR
from harness.spec.manifest import (
    AS_EXPECTED,
    TLC_ERROR,
    WRONG_VERDICT,
    SpecModel,
    check_model,
    judge,
    load_manifest,
    select,
)
from harness.spec.tlc import TlcResult


def report(model: SpecModel, res: TlcResult, status: int, out=None, full: bool = False) -> None:
    out = out or sys.stdout
    mark = {AS_EXPECTED: "ok", WRONG_VERDICT: "WRONG", TLC_ERROR: "ERROR"}[status]
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
        text = res.trace_text(full=full or status != AS_EXPECTED)
        print("    " + text.replace("\n", "\n    "), file=out)


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

    worst = AS_EXPECTED
    total = 0.0
    for i, m in enumerate(models, 1):
        print(f"({i}/{len(models)}) TLC {m.module} -config {m.cfg} ...", flush=True)
        res = check_model(m, args.spec_dir)
        status = judge(m, res)
        report(m, res, status, full=args.full_trace)
        total += res.seconds
        worst = max(worst, status)
    print(f"{len(models)} models, {total:.1f}s of TLC: "
          + {AS_EXPECTED: "all as expected", WRONG_VERDICT: "WRONG VERDICTS",
             TLC_ERROR: "ERRORS"}[worst])
    return worst
