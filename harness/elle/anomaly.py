"""What the checker reports: an anomaly, with the transactions that show it and its
explanation in plain words (and, for a cycle, each step of the cycle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Anomaly:
    type: str  # Elle's name: G0, G1a, G-single-realtime, lost-update, ...
    txns: list[int]  # the transactions involved (ids), in cycle order for a cycle
    explanation: str
    key: Any = None
    # For a cycle: one entry per edge {"from", "to", "type", "why"}.
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "txns": self.txns,
                               "explanation": self.explanation}
        if self.key is not None:
            out["key"] = self.key
        if self.steps:
            out["cycle"] = self.steps
        return out
