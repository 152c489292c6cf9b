"""The transactional checker of a campaign: ``harness.elle`` on the history's ``txn``
ops, valid when the history shows no anomaly that ``model`` rules out.

Each anomaly type that ``model`` rules out becomes one failure (its first, shortest
example: the transactions involved, the history events of their invocations and
completions, the explanation in plain words); one it allows is a note (followers may
serve stale reads: a serializable run may show -realtime cycles); ``elle.html`` holds every type with up to three examples, each cycle
drawn.  In results.json the entry lists the verdict per consistency model, the count
of each anomaly type and up to ``KEEP`` examples of each.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.checkers.base import CheckContext, CheckerResult, Failure
from harness.history import Op

HTML = "elle.html"
KEEP = 5  # examples of each anomaly type kept in results.json


@dataclass
class Transactions:
    model: str = "strict-serializable"
    name: str = "elle"

    def check(self, history: list[Op], context: CheckContext) -> CheckerResult:
        from harness.elle import MODELS, check
        from harness.elle.picture import write_html

        result = check(history, self.model, budget_s=context.timeout_s)
        full = result.to_dict()
        counts: dict[str, int] = {}
        kept = []
        for a in full.pop("anomalies"):
            counts[a["type"]] = counts.get(a["type"], 0) + 1
            if counts[a["type"]] <= KEEP:
                kept.append(a)
        details = {**full, "anomaly_counts": counts, "anomalies": kept}
        out = CheckerResult(result.validity, result.summary(), details=details)
        txns = result.analysis.txns if result.analysis else []
        forbidden = MODELS[self.model]
        for kind in result.anomaly_types:
            if kind not in forbidden:
                out.details.setdefault("notes", []).append(
                    f"{kind} ({counts[kind]}): allowed by {self.model}, so no failure; "
                    "rules out " + ", ".join(m for m, f in MODELS.items() if kind in f))
        for a in result.anomalies:
            if a.type not in forbidden or any(f.what == a.type for f in out.failures):
                continue
            first = txns[a.txns[0]] if a.txns else None
            events = sorted({i for t in a.txns for i in (txns[t].call_index,
                                                         txns[t].return_index)
                             if i is not None})
            out.failures.append(Failure(
                a.type, a.explanation, client=None if first is None else f"p{first.process}",
                events=tuple(events)))
        if result.anomalies and context.out is not None:
            write_html(result, context.out / HTML)
            out.artifacts["anomalies"] = HTML
            out.details["html"] = HTML
            out.details["html_height"] = 900
            out.details["html_caption"] = (
                "Every anomaly found, with the transactions involved and each cycle of "
                "the dependency graph drawn")
        return out
