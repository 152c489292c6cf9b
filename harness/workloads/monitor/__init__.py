"""The monitor workload: writers change a small table while monitoring clients record
what they receive, for the monitor checker (``harness.checkers.monitor``).

- ``plan``: what each writer and client does when, from the seed alone (pure);
- ``txns``: the OVSDB messages and the reading of replies (pure);
- ``clients``: the recording writers and monitoring clients (asyncio);
- ``run``: set-up, load and final read together; ``run_monitor_workload`` for tests.

``MonitorWorkload`` is the campaign's view: set-up, run, and its checkers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.workloads.env import RunEnv
from harness.workloads.monitor.clients import setup
from harness.workloads.monitor.plan import TABLE, MonitorConfig, MonitorPlan, make_plan
from harness.workloads.monitor.run import CLOCK, MonitorRun, run_load, run_monitor_workload

if TYPE_CHECKING:
    from harness.checkers import Checker
    from harness.history import Recorder

__all__ = ["MonitorConfig", "MonitorPlan", "MonitorRun", "MonitorWorkload", "make_plan",
           "run_monitor_workload"]

WRITERS = 2


@dataclass
class MonitorWorkload:
    """Two writers and ``workers - 2`` monitoring clients (at least one) on the first
    node, writers and monitors both through its fault proxy when there is one, so
    client-link faults and lies hit the writers' replies (a faked ack) as well as the
    update streams; set-up and the final read go to the server itself."""

    name: str = "monitor"
    prereq: bool = False
    sync_reads: bool = False
    config: MonitorConfig = field(default_factory=MonitorConfig)
    plan: MonitorPlan | None = None

    def configure(self, env: RunEnv) -> MonitorConfig:
        self.config = MonitorConfig(db=env.db, seed=env.seed, time_limit_s=env.time_s,
                                    txns=100_000, write_pause_s=0.05, writers=WRITERS,
                                    clients=max(1, env.workers - WRITERS),
                                    # Looked up when called: the campaign sets its
                                    # quiesce once the nemesis exists, after set-up.
                                    before_settle=lambda: env.quiesce())
        self.plan = make_plan(self.config)
        return self.config

    def checkers(self) -> list[Checker]:
        from harness.checkers import LatencyPlot, MonitorChecker, Timeline

        return [MonitorChecker(clock=CLOCK, table=TABLE), Timeline(workers=WRITERS),
                LatencyPlot()]

    def _node(self, env: RunEnv) -> str:
        return next(iter(env.direct))

    async def setup(self, env: RunEnv, recorder: Recorder) -> None:
        cfg = self.configure(env)
        assert self.plan is not None
        await setup(env.direct[self._node(env)], cfg, self.plan, recorder)

    async def run(self, env: RunEnv, recorder: Recorder) -> None:
        assert self.plan is not None, "setup() first"
        node = self._node(env)
        await run_load(env.remotes[node], env.remotes[node], self.config, self.plan,
                       recorder, env.stop, env.stats, final_remote=env.direct[node])
