"""The target's own offline consistency check (``ovsdb-tool check-cluster`` on a Raft
cluster's files), read back from the history: the campaign records what the target's
post-check said as a ``check-cluster`` event once the servers are stopped."""

from __future__ import annotations

from dataclasses import dataclass

from harness.checkers.base import INVALID, UNKNOWN, VALID, CheckContext, CheckerResult
from harness.history import Op

EVENT = "check-cluster"  # f of the event, process "target"
PROCESS = "target"


@dataclass
class ClusterCheck:
    name: str = "check-cluster"

    def check(self, history: list[Op], context: CheckContext) -> CheckerResult:
        found = [op for op in history if op.process == PROCESS and op.f == EVENT]
        if not found:
            return CheckerResult(UNKNOWN, "the history holds no check-cluster result",
                                 verdict="unknown")
        post = found[-1].value if isinstance(found[-1].value, dict) else {}
        ok = bool(post.get("ok"))
        details = {k: v for k, v in post.items() if k != "ok"}
        return CheckerResult(VALID if ok else INVALID, "", verdict="ok" if ok else "failed",
                             details={"ok": ok, **details})
