"""``crucible check --model list-append``: the list-append checker on a recorded
history (ours in JSON lines, or Jepsen's Elle histories in EDN), with the same exit
codes as the linearizability check: 0 valid under ``--consistency`` (default
strict-serializable), 1 invalid, 2 unknown (the cycle search ran out of time), 3
unusable input (handled by the caller, ``harness.linear.cli``)."""

from __future__ import annotations

import sys

from harness.elle import check
from harness.elle.picture import write_html
from harness.history import Op

MODEL = "list-append"
EXIT = {"valid": 0, "invalid": 1, "unknown": 2}


def run(ops: list[Op], consistency: str, timeout: float | None, html: str | None) -> int:
    result = check(ops, consistency, budget_s=30.0 if timeout is None else timeout)
    print(result.summary())
    for name, verdict in result.models.items():
        print(f"  {name}: {verdict}")
    shown: set[str] = set()
    for a in result.anomalies:
        if a.type not in shown:  # the first of each kind; the page has more
            shown.add(a.type)
            print(f"  {a.type}: {a.explanation}")
    if html:
        try:
            write_html(result, html)
        except OSError as e:
            print(f"crucible check: cannot write {html}: {e.strerror or e}", file=sys.stderr)
            return 3
        print(f"  anomalies: {html}")
    return EXIT[result.validity]
