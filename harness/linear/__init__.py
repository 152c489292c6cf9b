"""Linearizability checking of recorded histories (a Porcupine-class checker).

Public API (stable; the campaign runner and ``crucible check`` use only this)::

    from harness.linear import check, write_html

    result = check(history_ops, "cas-register", timeout_s=10.0)
    result.verdict        # "linearizable" | "not-linearizable" | "unknown" (timed out)
    result.details()      # JSON-ready dict for results.json / reports: verdict, model,
                          # ops, keys, elapsed_s, summary; when not linearizable also
                          # failing_key, prefix_length, linearizable_prefix_tail (the
                          # last ops with the state after each), unplaceable_op (op,
                          # history index, line, completion_line); unknown_keys if any
    result.summary()      # one human line
    write_html(result, "linear.html")   # self-contained timeline

- ``history_ops``: the history as a list of :class:`harness.history.Op` (events, as
  recorded or read with ``harness.history.read_jsonl`` /
  ``harness.jepsen_formats.read_history``), or already paired
  :class:`harness.history.Operation` objects.  Ops of non-integer processes
  (``"nemesis"``) are not client operations: they are kept for the picture only.
- ``model_name``: one of :data:`MODELS` (``register``, ``cas-register``, ``kv``,
  ``counter``, ``set``, ``ovsdb-row``); the op encodings of each are in
  :mod:`harness.linear.models`.
- ``timeout_s``: a budget for the whole check; when it runs out the verdict is
  ``unknown`` (unless some key has already been found not linearizable).
- Unusable input (a completion without an invoke, an op the model cannot read) raises
  :class:`harness.history.HistoryError` naming the line and the problem.

The history is split by each op's ``key`` (P-compositionality) and each part is
searched on its own (:mod:`harness.linear.checker`).  ``fail`` ops are dropped (they did
not happen); ``info`` ops and invokes without completion may take effect at any point
after their call, or never.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.history import HistoryError, Op, Operation, pair
from harness.linear.checker import (
    LINEARIZABLE,
    NOT_LINEARIZABLE,
    UNKNOWN,
    PartitionResult,
    check_partition,
)
from harness.linear.models import MODELS, ModelError, freeze, get_model
from harness.linear.visualize import describe, render

__all__ = [
    "LINEARIZABLE", "NOT_LINEARIZABLE", "UNKNOWN", "MODELS",
    "CheckResult", "PartitionResult", "check", "write_html",
]


PREFIX_TAIL = 50  # ops of the linearizable prefix listed in details()


@dataclass(slots=True)
class CheckResult:
    verdict: str
    model: str
    operations: list[Operation]  # every paired client op, fail ones included
    partitions: list[PartitionResult]  # one per key checked (possibly cut short)
    events: list[Op] = field(default_factory=list)  # non-client ops (faults)
    elapsed_s: float = 0.0
    timeout_s: float | None = None

    @property
    def failure(self) -> PartitionResult | None:
        for p in self.partitions:
            if p.verdict == NOT_LINEARIZABLE:
                return p
        return None

    def summary(self) -> str:
        keys = len(self.partitions)
        head = f"{self.verdict} ({self.model}, {len(self.operations)} ops, {keys} key(s), " \
               f"{self.elapsed_s:.3f} s)"
        f = self.failure
        if f is not None and f.blocked is not None:
            op = self.operations[f.blocked]
            head += (f"; key {f.key!r}: after a linearizable prefix of {len(f.linearization)} "
                     f"ops, no point for {describe(op)}")
        elif self.verdict == UNKNOWN:
            head += f"; gave up after {self.timeout_s} s"
        return head

    def details(self) -> dict[str, Any]:
        f = self.failure
        d: dict[str, Any] = {
            "verdict": self.verdict,
            "model": self.model,
            "ops": len(self.operations),
            "keys": len(self.partitions),
            "elapsed_s": round(self.elapsed_s, 6),
            "summary": self.summary(),
        }
        unknown = [p.key for p in self.partitions if p.verdict == UNKNOWN]
        if unknown:
            d["unknown_keys"] = unknown
        if f is not None:
            d["failing_key"] = f.key
            # the end of the prefix is what explains the failure; the whole is in the HTML
            d["prefix_length"] = len(f.linearization)
            d["linearizable_prefix_tail"] = [
                {"op": describe(self.operations[i]), "index": self.operations[i].call_index,
                 "state_after": s}
                for i, s in list(zip(f.linearization, f.states, strict=True))[-PREFIX_TAIL:]
            ]
            if f.blocked is not None:
                b = self.operations[f.blocked]
                d["unplaceable_op"] = {
                    "op": describe(b), "index": b.call_index, "line": b.line,
                    "completion_line": b.complete.line if b.complete else None,
                }
        return d


def check(
    history_ops: list[Op] | list[Operation],
    model_name: str,
    timeout_s: float | None = None,
) -> CheckResult:
    """Check a history for linearizability against a model (see the module docstring)."""
    t0 = time.perf_counter()
    model = get_model(model_name)
    ops = list(history_ops)
    if ops and isinstance(ops[0], Operation):
        operations: list[Operation] = ops  # type: ignore[assignment]
        events: list[Op] = []
    else:
        operations = pair(ops)  # type: ignore[arg-type]
        events = [o for o in ops if isinstance(o.process, str)]  # type: ignore[union-attr]
    deadline = None if timeout_s is None else time.monotonic() + timeout_s

    # Partition by key, compiling each op once; drop what cannot matter.
    parts: dict[Any, tuple[list[Operation], list[Any]]] = {}
    original_key: dict[Any, Any] = {}  # frozen key -> the key as the history spells it
    for o in operations:
        if model.needs_key and o.key is None:
            raise HistoryError(o.line, f"model {model.name} needs a 'key' on every op")
        try:
            model.check_f(o)
            if o.status == "fail":
                continue
            c = model.prepare(o)
        except ModelError as e:
            raise HistoryError(o.line, str(e)) from None
        if model.no_effect(o):
            continue
        try:
            fk = freeze(o.key)
            group = parts.setdefault(fk, ([], []))
            original_key.setdefault(fk, o.key)
        except TypeError:
            raise HistoryError(o.line, f"key {o.key!r} cannot be used as a key") from None
        group[0].append(o)
        group[1].append(c)

    results: list[PartitionResult] = []
    verdict = LINEARIZABLE
    # Smaller keys first: a violation in a small one is found fastest.
    for key, (part, compiled) in sorted(parts.items(), key=lambda kv: len(kv[1][0])):
        r = check_partition(original_key[key], part, model, compiled, deadline)
        results.append(r)
        if r.verdict == NOT_LINEARIZABLE:
            verdict = NOT_LINEARIZABLE
            break
        if r.verdict == UNKNOWN:
            verdict = UNKNOWN
    return CheckResult(verdict, model.name, operations, results, events,
                       time.perf_counter() - t0, timeout_s)


def write_html(result: CheckResult, path: str | Path) -> None:
    """Write the self-contained HTML timeline of ``result`` to ``path``."""
    Path(path).write_text(render(result), encoding="utf-8")
