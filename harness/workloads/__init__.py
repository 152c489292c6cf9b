"""Workloads: seeded operation generators plus the OVSDB transactions that run them.

``make_workload(name, keys=4, prereq=False, sync_reads=False)``.  The monitor workload
lives in ``harness.workloads.monitor`` (its own driver); the ones here are checked for
linearizability with the model named by ``workload.model``.
"""

from __future__ import annotations

from harness.workloads.base import OpSpec, Outcome, Workload
from harness.workloads.counter import Counter
from harness.workloads.register import CasRegister, Register
from harness.workloads.set import SetWorkload

WORKLOADS: dict[str, type[Workload]] = {
    "register": Register,
    "cas-register": CasRegister,
    "counter": Counter,
    "set": SetWorkload,
}

__all__ = ["WORKLOADS", "OpSpec", "Outcome", "Workload", "make_workload"]


def make_workload(name: str, keys: int = 4, prereq: bool = False,
                  sync_reads: bool = False, read_ratio: float = 0.5) -> Workload:
    try:
        cls = WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}: choose one of "
                         f"{', '.join(WORKLOADS)}") from None
    return cls(keys=keys, prereq=prereq, sync_reads=sync_reads, read_ratio=read_ratio)
