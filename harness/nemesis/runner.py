"""Carry out a fault schedule against a target, recording every fault in the history.

Each fault becomes two history events (``process "nemesis"``, type ``info``):
``start-<kind>`` with the fault's description and ``stop-<kind>`` when it is undone.
A fault the target cannot inject becomes one ``skip-<kind>`` event saying why.

Target methods block (they run subprocesses), so they run in a thread; the event loop
keeps serving the workload's clients meanwhile.  Client-link faults go through one
``harness.proxy.FaultProxy`` per node, when the campaign put proxies in front of the
nodes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

from harness.nemesis.grudges import SHAPES
from harness.nemesis.schedule import CLIENT_FAULTS, LEADER_FAULTS, Fault
from harness.targets.base import (
    DELAY,
    DROP,
    KILL,
    LEAVE,
    PARTITION,
    PAUSE,
    RESET,
    Target,
    Unsupported,
)

NEEDS = {"kill": KILL, "pause": PAUSE, "leave": LEAVE, "drop": DROP, "reset": RESET,
         "delay": DELAY,
         "kill-leader": KILL, "pause-leader": PAUSE, "isolate-leader": PARTITION,
         **{shape: PARTITION for shape in SHAPES}}


class Nemesis:
    def __init__(self, target: Target, recorder: Any, faults: list[Fault], t0: float,
                 proxies: dict[str, Any] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.target = target
        self.recorder = recorder
        self.faults = faults
        self.t0 = t0  # time.monotonic() at the campaign's start
        self.proxies = proxies or {}
        self.log = log or (lambda _msg: None)
        self.active: Fault | None = None
        self.done: list[dict[str, Any]] = []  # what happened to each fault
        self._killed: set[str] = set()
        self._paused: set[str] = set()
        self._left: set[str] = set()

    def why_not(self, fault: Fault) -> str | None:
        """None if the fault can be injected, else the reason it cannot."""
        if fault.kind in CLIENT_FAULTS:
            if not fault.nodes or fault.nodes[0] not in self.proxies:
                return "no client proxy in front of this node (the campaign starts " \
                       "proxies only when client faults are asked for)"
            return None
        if fault.kind in SHAPES and not fault.grudge:
            return "one node: nothing to partition"
        if fault.kind == "isolate-leader" and len(self.target.nodes) < 2:
            return "one node: nothing to partition"
        need = NEEDS.get(fault.kind)
        if need and need not in self.target.capabilities:
            return f"target {self.target.name} cannot {need}: " + \
                ("; ".join(self.target.notes) or "not supported")
        return None

    async def _sleep_until(self, at: float, stop: asyncio.Event) -> bool:
        """Sleep until ``at`` seconds after t0; False if stopped first."""
        delay = self.t0 + at - time.monotonic()
        if delay <= 0:
            return not stop.is_set()
        try:
            await asyncio.wait_for(stop.wait(), delay)
            return False
        except asyncio.TimeoutError:
            return True

    async def run(self, stop: asyncio.Event) -> None:
        watch = asyncio.ensure_future(self.watch_leader(stop))
        try:
            await self._run(stop)
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)

    async def watch_leader(self, stop: asyncio.Event, every_s: float = 1.0,
                           max_polls: int = 100_000) -> None:
        """For a cluster target that can tell (``leader_term``): a ``leader`` event of
        process ``"target"`` (``{"leader": node or None, "term": n}``) whenever the
        leader or term changes, polled every ``every_s`` until ``stop``, for the
        report's leader row."""
        ask = getattr(self.target, "leader_term", None)
        if ask is None or len(self.target.nodes) < 2:
            return
        last: tuple[str | None, int | None] | None = None
        for _ in range(max_polls):
            try:
                now = await asyncio.wait_for(self._call(ask), timeout=10)
            except (RuntimeError, OSError, asyncio.TimeoutError):
                now = None
            if now is not None and now != last:
                self.recorder.event("leader", {"leader": now[0], "term": now[1]},
                                    process="target")
                last = now
            try:
                await asyncio.wait_for(stop.wait(), every_s)
                return
            except asyncio.TimeoutError:
                pass

    async def _run(self, stop: asyncio.Event) -> None:
        try:
            for fault in self.faults:
                if not await self._sleep_until(fault.start, stop):
                    break
                reason = self.why_not(fault)
                if reason:
                    self.recorder.event(f"skip-{fault.kind}", {**fault.to_dict(),
                                                               "reason": reason})
                    self.done.append({**fault.to_dict(), "status": "skipped",
                                      "reason": reason})
                    continue
                if fault.kind in LEADER_FAULTS:
                    fault = await self._aim_at_leader(fault)
                    if fault is None:
                        continue
                self.active = fault
                self.recorder.event(f"start-{fault.kind}", fault.to_dict())
                self.log(f"fault: {fault.describe()}")
                status = "done"
                try:
                    await self._inject(fault)
                except (Unsupported, RuntimeError, OSError, TimeoutError) as e:
                    status = f"inject failed: {e}"
                await self._sleep_until(fault.end, stop)
                try:
                    await self._undo(fault)
                except (RuntimeError, OSError, TimeoutError) as e:
                    status = f"undo failed: {e}"
                self.recorder.event(f"stop-{fault.kind}", {"id": fault.id, "status": status})
                self.done.append({**fault.to_dict(), "status": status})
                self.active = None
        finally:
            self.active = None

    async def _aim_at_leader(self, fault: Fault) -> Fault | None:
        # Right after a fault the cluster may still be electing: wait a little for one.
        deadline = time.monotonic() + 5.0
        leader = await self._call(self.target.leader)
        while leader is None and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            leader = await self._call(self.target.leader)
        if leader is None:
            reason = "no member claimed to lead within 5 s"
            self.recorder.event(f"skip-{fault.kind}", {**fault.to_dict(), "reason": reason})
            self.done.append({**fault.to_dict(), "status": "skipped", "reason": reason})
            return None
        grudge: dict[str, list[str]] = {}
        if fault.kind == "isolate-leader":
            others = [n for n in self.target.nodes if n != leader]
            grudge = {leader: others, **{n: [leader] for n in others}}
        return dataclasses.replace(fault, nodes=(leader,), grudge=grudge)

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def _inject(self, f: Fault) -> None:
        t = self.target
        node = f.nodes[0] if f.nodes else ""
        if f.kind in ("kill", "kill-leader"):
            self._killed.add(node)
            await self._call(t.kill, node)
        elif f.kind in ("pause", "pause-leader"):
            self._paused.add(node)
            await self._call(t.pause, node)
        elif f.kind == "leave":
            self._left.add(node)
            await self._call(t.leave, node)
        elif f.kind in SHAPES or f.kind == "isolate-leader":
            await self._call(t.partition, {k: set(v) for k, v in f.grudge.items()})
        elif f.kind == "drop":
            await self._call(t.drop, node, f.params["probability"])
        elif f.kind == "reset":
            await self._call(t.reset, node)
        elif f.kind == "delay":
            await self._call(t.delay, f.params["delay_ms"])
        elif f.kind == "client-delay":
            self.proxies[node].set_delay(f.params["delay_ms"])
        elif f.kind == "client-drop":
            self.proxies[node].blackhole(f.params.get("direction", "both"))
        elif f.kind == "client-reset":
            self.proxies[node].reset()
        else:
            raise Unsupported(f"unknown fault {f.kind}")

    async def _undo(self, f: Fault) -> None:
        t = self.target
        node = f.nodes[0] if f.nodes else ""
        if f.kind in ("kill", "kill-leader"):
            await self._call(t.restart, node)
            self._killed.discard(node)
            await self._call(t.wait_ready, node)
        elif f.kind in ("pause", "pause-leader"):
            await self._call(t.resume, node)
            self._paused.discard(node)
        elif f.kind == "leave":
            await self._call(t.rejoin, node)
            self._left.discard(node)
            await self._call(t.wait_ready, node)
        elif f.kind in SHAPES or f.kind in ("drop", "reset", "delay", "isolate-leader"):
            await self._call(t.heal)
        elif f.kind in CLIENT_FAULTS:
            await self.proxies[node].heal()

    async def heal_all(self) -> list[str]:
        """Undo whatever is still in effect (after a stop or a failure); returns errors."""
        errors: list[str] = []
        steps: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [("heal", self.target.heal, ())]
        steps += [(f"resume {n}", self.target.resume, (n,)) for n in sorted(self._paused)]
        steps += [(f"restart {n}", self.target.restart, (n,)) for n in sorted(self._killed)]
        steps += [(f"rejoin {n}", self.target.rejoin, (n,)) for n in sorted(self._left)]
        for what, fn, args in steps:
            try:
                await self._call(fn, *args)
            except Exception as e:  # noqa: BLE001 - keep healing the rest
                errors.append(f"{what}: {e}")
        for proxy in self.proxies.values():
            try:
                await proxy.heal()
            except Exception as e:  # noqa: BLE001
                errors.append(f"proxy heal: {e}")
        for n in sorted(self._killed | self._left):
            try:
                await self._call(self.target.wait_ready, n)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{n} not ready after healing: {e}")
        self._paused.clear()
        self._killed.clear()
        self._left.clear()
        if self.active is not None:
            self.recorder.event(f"stop-{self.active.kind}",
                                {"id": self.active.id, "status": "healed at the end"})
            self.active = None
        return errors
