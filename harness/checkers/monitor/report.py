"""The monitor checker's verdicts: one per property, each with its first counterexample."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROPERTIES = ("ordered", "unique", "atomic", "reliable", "filtered", "resumable",
              "condition", "convergent", "acknowledged")
ACKNOWLEDGED = "acknowledged"  # about the writers' replies, not a client's stream


@dataclass
class Violation:
    prop: str
    client: str
    event: int  # index of the event in the client's stream (-1: end of stream)
    message: str
    row: tuple[str, str] | None = None  # (table, uuid) of the row it is about, if one
    clock: int | None = None  # the transaction the replica was held to, when known
    index: int | None = None  # the history entry that shows it (writes have no stream)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"client": self.client, "event": self.event,
                               "message": self.message}
        if self.row is not None:
            out["row"] = list(self.row)
        if self.clock is not None:
            out["clock"] = self.clock
        if self.index is not None:
            out["index"] = self.index
        return out


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # unusable input

    @property
    def valid(self) -> bool:
        return not self.violations and not self.problems

    def failed(self) -> set[str]:
        return {v.prop for v in self.violations}

    def verdicts(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for prop in PROPERTIES:
            vs = [v for v in self.violations if v.prop == prop]
            out[prop] = {"ok": not vs and not self.problems, "violations": len(vs),
                         "first": vs[0].to_dict() if vs else None}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "problems": self.problems,
                "properties": self.verdicts()}

