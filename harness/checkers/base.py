"""What a checker is: a name and ``check(history, context) -> CheckerResult``.

As in Jepsen, everything that reads a finished history is a checker: the correctness
checks (linearizability, the monitor properties, the cluster's own consistency check)
and the pictures (the timeline, the latency plot), which render from the history and
always pass.  A workload names its checkers; the campaign runs them in order on the
history it recorded; the report reads only the history and their results.

A result says ``validity`` (``valid``, ``invalid`` or ``unknown``: Jepsen's
``:valid?``), the checker's own word for it (``verdict``: "linearizable", "failed"...,
what people read), a one-line summary, JSON-able details, the failures found (each
pointing at the history events that show it) and the files the checker wrote.  A
picture marks its details ``{"picture": True}``: its verdict is no finding, so verdict
lists leave it out and the report shows it as a picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from harness.history import Op

Validity = Literal["valid", "invalid", "unknown"]
VALID: Validity = "valid"
INVALID: Validity = "invalid"
UNKNOWN: Validity = "unknown"


@dataclass(frozen=True)
class Failure:
    """One thing a checker found wrong, as a report shows it."""

    what: str  # the property or rule broken ("reliable", "not linearizable", ...)
    message: str
    client: str | None = None
    row: str | None = None  # "table uuid", when the failure is about one row
    events: tuple[int, ...] = ()  # history indices of the events that show it
    clocks: str | None = None  # the stretch of the run it is about ("transactions 3-5")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"what": self.what, "message": self.message,
                               "events": list(self.events)}
        if self.clocks is not None:
            out["clocks"] = self.clocks
        if self.client is not None:
            out["client"] = self.client
        if self.row is not None:
            out["row"] = self.row
        return out


@dataclass
class CheckerResult:
    validity: Validity
    summary: str = ""
    verdict: str = ""  # the checker's own word; defaults to the validity
    details: dict[str, Any] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)  # label -> file under out

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = self.validity

    def to_dict(self) -> dict[str, Any]:
        """The entry in results.json: details are merged in at the top level, so an
        entry reads as before (``verdict``, ``summary``, a checker's own fields)."""
        out: dict[str, Any] = {"verdict": self.verdict, "validity": self.validity,
                               "summary": self.summary, **self.details}
        if self.failures:
            out["failures"] = [f.to_dict() for f in self.failures]
        if self.artifacts:
            out["artifacts"] = dict(self.artifacts)
        return out


@dataclass
class CheckContext:
    """What a checker may use besides the history."""

    out: Path | None = None  # where to write files (None: write nothing)
    timeout_s: float = 60.0  # for searches that may not finish
    # Results of the checkers that ran before this one, by name (the pictures use them).
    earlier: dict[str, CheckerResult] = field(default_factory=dict)


class Checker(Protocol):
    name: str

    def check(self, history: list[Op], context: CheckContext) -> CheckerResult: ...


def run_checkers(checkers: list[Checker], history: list[Op],
                 context: CheckContext) -> dict[str, CheckerResult]:
    """Run each checker in order; a checker that raises gets an ``unknown`` result
    saying so, since the others' verdicts still matter."""
    results = context.earlier
    for checker in checkers:
        try:
            results[checker.name] = checker.check(history, context)
        except Exception as e:  # noqa: BLE001 - one broken checker must not hide the rest
            results[checker.name] = CheckerResult(
                UNKNOWN, f"the checker crashed: {type(e).__name__}: {e}", verdict="error")
    return results


def validity_of(entry: dict[str, Any]) -> Validity:
    """A results.json entry's validity (entries written before ``validity`` existed
    only have a verdict word)."""
    v = entry.get("validity")
    if v in (VALID, INVALID, UNKNOWN):
        return v  # type: ignore[return-value]
    word = entry.get("verdict")
    if word in ("not-linearizable", "failed", "invalid"):
        return INVALID
    if word in ("unknown", "error"):
        return UNKNOWN
    return VALID
