"""What a campaign gives a workload to run with, and what it asks of every workload.

A campaign runs every workload the same way: ``await workload.setup(env, recorder)``,
then the nemesis and ``await workload.run(env, recorder)`` side by side until the
workload returns (it stops its load when ``env.stop`` is set), then the workload's
``checkers()`` on the recorded history.  Linearizability workloads run through the
common worker loop (``harness.workloads.driver``); the monitor workload has writers
and long-lived monitoring clients of its own (``harness.workloads.monitor``), since a
monitor session is not a sequence of calls and returns.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from harness.checkers import Checker
    from harness.history import Recorder


@dataclass
class Stats:
    """Counts for the progress line (the history holds the ops themselves)."""

    counts: Counter = field(default_factory=Counter)
    latencies: list[tuple[float, float, str, str]] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counts
        return f"ok={c['ok']} fail={c['fail']} info={c['info']} skipped={c['skipped']}"


async def _nothing() -> None:
    return None


@dataclass
class RunEnv:
    db: str
    remotes: dict[str, str]  # node -> what clients dial (its fault proxy, if it has one)
    direct: dict[str, str]  # node -> the server itself, past any proxy
    clustered: bool = False
    seed: int = 0
    time_s: float = 20.0  # seconds of load
    workers: int = 5
    reads: str = "leader"  # "leader" | "node"
    op_timeout: float = 2.0
    stop: asyncio.Event = field(default_factory=asyncio.Event)  # set when load time is up
    stats: Stats = field(default_factory=Stats)
    # Stop injecting faults and heal everything (idempotent): a workload that owes
    # convergence awaits it before it settles.
    quiesce: Callable[[], Awaitable[None]] = _nothing


class CampaignWorkload(Protocol):
    name: str
    prereq: bool  # writes carry a wait on the last value seen
    sync_reads: bool  # reads commit through Raft

    def checkers(self) -> list[Checker]: ...

    async def setup(self, env: RunEnv, recorder: Recorder) -> None: ...

    async def run(self, env: RunEnv, recorder: Recorder) -> None: ...
