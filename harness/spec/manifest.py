"""The models ``spec/manifest.json`` lists, and whether TLC gave each the verdict it must.

For every model the manifest names its module, config, tier (``ci`` or ``deep``), the
expected verdict (``pass``, or ``violation`` of a named property for the bug switches),
the figures of the last run (distinct states, depth) and a time budget.  ``check_model``
runs one model under TLC; ``judge`` compares TLC's verdict with the expected one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from harness.spec import SPEC_DIR
from harness.spec.tlc import Simulation, TlcResult, run_tlc

# judge's answers (also the exit codes of ``crucible spec check``).
AS_EXPECTED, WRONG_VERDICT, TLC_ERROR = 0, 1, 2


@dataclass
class SpecModel:
    """One TLC run of a spec: a module with a config (not a linearizability model)."""

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


def load_manifest(spec_dir: Path = SPEC_DIR) -> list[SpecModel]:
    data = orjson.loads((spec_dir / "manifest.json").read_bytes())
    models = []
    for m in data["models"]:
        sim = m.get("simulate")
        models.append(
            SpecModel(
                name=m["name"], module=m["module"], cfg=m["cfg"], tier=m.get("tier", "ci"),
                expect=m["expect"], property=m.get("property"), distinct=m.get("distinct"),
                depth=m.get("depth"), budget_s=float(m.get("budget_s", 120)),
                simulate=Simulation(**sim) if sim else None, note=m.get("note", ""),
            )
        )
    return models


def select(models: list[SpecModel], names: list[str], deep: bool) -> list[SpecModel]:
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


def check_model(
    model: SpecModel, spec_dir: Path = SPEC_DIR, timeout: float | None = None
) -> TlcResult:
    # The timeout is a generous multiple of the budget: the budget is what the model
    # should take, the timeout only stops a run that went astray.
    limit = timeout if timeout is not None else max(60.0, 4 * model.budget_s)
    return run_tlc(spec_dir / model.module, spec_dir / model.cfg, timeout=limit,
                   simulate=model.simulate)


def judge(model: SpecModel, res: TlcResult) -> int:
    """AS_EXPECTED, WRONG_VERDICT, or TLC_ERROR when TLC gave no verdict at all."""
    if res.verdict == "error":
        return TLC_ERROR
    if res.verdict != model.expect:
        return WRONG_VERDICT
    if model.expect == "violation" and model.property and res.property != model.property:
        return WRONG_VERDICT
    return AS_EXPECTED
