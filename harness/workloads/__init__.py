"""Workloads: what a campaign runs against a target, each naming its own checkers (the
protocol is in ``harness.workloads.env``).

``make_workload(name, keys=4, prereq=False, sync_reads=False, read_ratio=0.5,
txn=None)``.  ``register``,
``cas-register``, ``counter`` and ``set`` are seeded operation generators (pure, see
``harness.workloads.base``) run by the common worker loop and checked for
linearizability with the model named by ``workload.model``; ``monitor`` drives
writers and monitoring clients (``harness.workloads.monitor``) and is checked for the
monitor properties; ``list-append`` runs transactions of appends and reads over
several keys (``harness.workloads.list_append``; ``txn`` sets its
``max_txn_length`` and ``max_writes_per_key``), checked for transactional anomalies.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.workloads.base import Workload
from harness.workloads.counter import Counter
from harness.workloads.env import CampaignWorkload, RunEnv, Stats
from harness.workloads.list_append import ListAppend
from harness.workloads.monitor import MonitorWorkload
from harness.workloads.ops import OpSpec, Outcome
from harness.workloads.register import CasRegister, Register
from harness.workloads.set import SetWorkload

OP_WORKLOADS: dict[str, type[Workload]] = {
    "register": Register,
    "cas-register": CasRegister,
    "counter": Counter,
    "set": SetWorkload,
}


def _monitor(keys: int, prereq: bool, sync_reads: bool, read_ratio: float) -> MonitorWorkload:
    return MonitorWorkload()  # keys, prerequisites and read mixes do not apply


WORKLOADS: dict[str, Callable[..., CampaignWorkload]] = {
    **OP_WORKLOADS, "monitor": _monitor, "list-append": ListAppend}

__all__ = ["OP_WORKLOADS", "WORKLOADS", "CampaignWorkload", "ListAppend", "MonitorWorkload",
           "OpSpec",
           "Outcome", "RunEnv", "Stats", "Workload", "make_workload"]


def make_workload(name: str, keys: int = 4, prereq: bool = False,
                  sync_reads: bool = False, read_ratio: float = 0.5,
                  txn: dict[str, int] | None = None) -> CampaignWorkload:
    try:
        factory = WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}: choose one of "
                         f"{', '.join(WORKLOADS)}") from None
    if name == "list-append":
        return ListAppend(keys, prereq, sync_reads, read_ratio, **(txn or {}))
    return factory(keys, prereq, sync_reads, read_ratio)
