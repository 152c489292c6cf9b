"""Elle for OVSDB: transactional anomalies in list-append histories.

``check(history, model="strict-serializable", budget_s=30)`` reads the ``txn`` ops of
a history (``harness.elle.txns``), infers each key's version order and the ww, wr and rw
dependencies between transactions, adds process and real-time order
(``harness.elle.list_append``), finds the strongly connected components of that graph
and, inside each, the shortest cycles that show each anomaly (``harness.elle.cycles``).
The result names every anomaly with the transactions involved and an explanation in
plain words, and says for each consistency model (``harness.elle.models``) whether the
history is valid under it; ``result.validity`` is the verdict for ``model``.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from typing import Any

from harness.elle.anomaly import Anomaly
from harness.elle.cycles import find_cycles
from harness.elle.graph import components
from harness.elle.list_append import Analysis, analyse
from harness.elle.models import MODELS
from harness.elle.txns import transactions
from harness.history import Op

__all__ = ["MODELS", "Anomaly", "ElleResult", "check"]

VALID, INVALID, UNKNOWN = "valid", "invalid", "unknown"


@dataclass
class ElleResult:
    model: str
    anomalies: list[Anomaly]
    models: dict[str, str]  # model -> valid | invalid | unknown
    stats: dict[str, Any] = field(default_factory=dict)
    analysis: Analysis | None = None

    @property
    def validity(self) -> str:
        return self.models[self.model]

    @property
    def anomaly_types(self) -> list[str]:
        return sorted({a.type for a in self.anomalies})

    def ruled_out(self) -> list[str]:
        """The models the history breaks (Elle's ``:not``)."""
        return [m for m, v in self.models.items() if v == INVALID]

    def summary(self) -> str:
        n = self.stats.get("txns", 0)
        if not self.anomalies and self.validity == VALID:
            return f"{n} transactions, no anomaly: valid under {self.model}"
        kinds = ", ".join(self.anomaly_types) or "none found"
        text = f"{n} transactions; anomalies: {kinds}"
        if self.ruled_out():
            text += f"; not {', '.join(self.ruled_out())}"
        if self.validity == UNKNOWN:
            text += "; the cycle search ran out of time"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "validity": self.validity,
                "models": dict(self.models), "not": self.ruled_out(),
                "anomaly_types": self.anomaly_types,
                "anomalies": [a.to_dict() for a in self.anomalies], **self.stats}


def check(history: list[Op], model: str = "strict-serializable",
          budget_s: float = 30.0) -> ElleResult:
    if model not in MODELS:
        raise ValueError(f"unknown consistency model {model!r}: choose one of "
                         f"{', '.join(MODELS)}")
    # The check allocates millions of small objects that all live until it returns; the
    # cyclic collector's passes over them would cost more than the check itself.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _check(history, model, budget_s)
    finally:
        if enabled:
            gc.enable()


def _check(history: list[Op], model: str, budget_s: float) -> ElleResult:
    t0 = time.monotonic()
    txns = transactions(history)
    an = analyse(txns)
    t1 = time.monotonic()
    comps = components(an.graph)
    t2 = time.monotonic()
    search = find_cycles(an, comps, budget_s)
    t3 = time.monotonic()
    anomalies = [*search.anomalies, *an.anomalies]  # cycles first, as Elle lists them
    found = {a.type for a in anomalies}
    models = {}
    for name, forbidden in MODELS.items():
        if found & forbidden:
            models[name] = INVALID
        elif not search.complete:
            models[name] = UNKNOWN
        else:
            models[name] = VALID
    stats = {"txns": len(txns), "nodes": len(an.nodes), "edges": an.graph.edges(),
             "components": search.components, "largest_component": search.largest,
             "seconds": {"infer": round(t1 - t0, 3), "components": round(t2 - t1, 3),
                         "cycles": round(t3 - t2, 3)}}
    return ElleResult(model, anomalies, models, stats, an)
