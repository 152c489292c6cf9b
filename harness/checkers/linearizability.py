"""The linearizability checker: ``harness.linear`` on a campaign's history, with the
picture of the longest linearizable prefix written when the history is not
linearizable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.checkers.base import INVALID, UNKNOWN, VALID, CheckContext, CheckerResult, Failure
from harness.history import Op

HTML = "linear.html"


@dataclass
class Linearizability:
    model: str
    name: str = "linearizability"

    def check(self, history: list[Op], context: CheckContext) -> CheckerResult:
        from harness.linear import LINEARIZABLE, NOT_LINEARIZABLE, check, write_html

        result = check(history, self.model, timeout_s=context.timeout_s)
        details: dict[str, Any] = {"model": self.model}
        try:
            details["details"] = result.details()
        except Exception as e:  # noqa: BLE001 - the verdict matters more than the details
            details["details_error"] = str(e)
        validity = {LINEARIZABLE: VALID, NOT_LINEARIZABLE: INVALID}.get(result.verdict,
                                                                       UNKNOWN)
        out = CheckerResult(validity, result.summary(), verdict=result.verdict,
                            details=details)
        if result.verdict != LINEARIZABLE and context.out is not None:
            write_html(result, context.out / HTML)
            out.artifacts["linearizability timeline"] = HTML
            # The report reads the link from here, as it always has.
            out.details["html"] = HTML
        stuck = (details.get("details") or {}).get("unplaceable_op")
        if result.verdict == NOT_LINEARIZABLE and stuck:
            call = stuck["index"]
            process = next((op.process for op in history if op.index == call), None)
            done = next((op.index for op in history if op.index > call
                         and op.process == process and op.type != "invoke"), None)
            out.failures.append(Failure(
                "not linearizable", f"no order of the ops explains {stuck['op']}",
                client=None if process is None else f"p{process}",
                events=(call,) if done is None else (call, done)))
        return out
