"""Running the monitor workload: set-up, writers and monitoring clients together, the
final read; everything recorded in one history (``harness.checkers.monitor.history``).

``run = await run_monitor_workload(write_remote, monitor_remote, MonitorConfig(...))``
records into a fresh in-memory history (or ``recorder``); ``run.history`` is it,
``run.check()`` checks it exactly as a campaign's monitor checker does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from harness.checkers.monitor.history import MonitorInput, read_input
from harness.checkers.monitor.replay import check_input
from harness.checkers.monitor.report import Report
from harness.history import Op, Recorder
from harness.workloads.monitor.clients import Shared, Watcher, final_read, setup, writer
from harness.workloads.monitor.plan import (
    CLOCK_TABLE,
    TABLE,
    MonitorConfig,
    MonitorPlan,
    make_plan,
)

CLOCK = (CLOCK_TABLE, "value")


@dataclass
class MonitorRun:
    """A finished run's history, read back the way the checker reads it."""

    history: list[Op]
    input: MonitorInput = field(init=False)

    def __post_init__(self) -> None:
        self.input = read_input(self.history, TABLE)

    @property
    def writes(self) -> dict[str, Any]:
        return self.input.writes

    @property
    def streams(self) -> list[dict[str, Any]]:
        return self.input.streams

    @property
    def indeterminate(self) -> int:
        return self.input.indeterminate

    @property
    def notes(self) -> list[str]:
        return self.input.notes

    def check(self) -> Report:
        return check_input(self.input, clock=CLOCK, quiescent=True)


async def run_monitor_workload(write_remote: str, monitor_remote: str,
                               cfg: MonitorConfig | None = None,
                               recorder: Recorder | None = None) -> MonitorRun:
    cfg = cfg or MonitorConfig()
    recorder = recorder if recorder is not None else Recorder()
    plan = make_plan(cfg)
    await setup(write_remote, cfg, plan, recorder)
    await run_load(write_remote, monitor_remote, cfg, plan, recorder)
    return MonitorRun(recorder.ops)


async def run_load(write_remote: str, monitor_remote: str, cfg: MonitorConfig,
                   plan: MonitorPlan, recorder: Recorder, stop: asyncio.Event | None = None,
                   stats: Any = None, final_remote: str | None = None) -> None:
    """After set-up: clients first (each gets its snapshot before writes begin), then
    the writers until the budget, the time limit or ``stop``; then ``before_settle``,
    the final read (from ``final_remote``, default ``write_remote``: the server itself
    when the writers' link lies), and the clients' settle (bounded)."""
    shared = Shared(cfg, stop)
    shared.rows.update(_initial_rows(recorder))
    watchers = [Watcher(p, monitor_remote, shared, recorder) for p in plan.clients]
    tasks = [asyncio.get_running_loop().create_task(w.run()) for w in watchers]
    for _ in range(100):  # bounded wait for every client's first snapshot
        if all(w.started for w in watchers) or any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.02)
    final = None
    try:
        await asyncio.gather(*(writer(i, write_remote, shared,
                                      plan.writer_intents(i, cfg.write_pause_s),
                                      recorder, stats) for i in range(cfg.writers)))
        if cfg.before_settle is not None:
            shared.hard_stop = float("inf")
            await cfg.before_settle()
        final = await final_read(final_remote or write_remote, cfg, recorder)
    finally:
        # Clients wait (bounded) until they have seen the last transaction.
        shared.target = final[0] if final else shared.committed
        shared.hard_stop = time.monotonic() + cfg.settle_s
        shared.writers_done.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def _initial_rows(recorder: Recorder) -> dict[str, dict[str, Any]]:
    """The Item rows set-up created, as the writers start from them."""
    for op in reversed(recorder.ops):
        if op.f == "setup" and op.type == "ok":
            return dict(op.value["initial"].get(TABLE, {}))
    return {}
