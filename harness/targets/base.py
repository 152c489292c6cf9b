"""What a target is: how to create, start, stop, kill, pause, partition and address N
servers.  Campaigns and nemeses talk only to this interface.

Every method is synchronous (it runs subprocesses); asyncio callers wrap them with
``asyncio.to_thread``.  A target that cannot do something raises ``Unsupported`` with a
message saying why, and lists what it can do in ``capabilities`` so a nemesis can skip
faults the target cannot inject (and say so in the history) instead of failing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Capability names used by nemeses.
KILL = "kill"          # kill -9 and restart
PAUSE = "pause"        # SIGSTOP / SIGCONT
LEAVE = "leave"        # graceful cluster leave and rejoin
PARTITION = "partition"  # drop traffic between members (grudges), one-way included
DROP = "drop"          # random packet loss between members
RESET = "reset"        # reset the members' TCP connections
DELAY = "delay"        # delay between members


class Unsupported(RuntimeError):
    """The target cannot inject this fault; the message says why."""


@dataclass
class Proc:
    """One server process that we started, addressed by PID only."""

    argv: list[str]
    log: Path
    cwd: Path | None = None
    popen: subprocess.Popen | None = None
    paused: bool = False

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        if self.alive():
            return
        with open(self.log, "ab") as err:
            self.popen = subprocess.Popen(self.argv, cwd=self.cwd, stdin=subprocess.DEVNULL,
                                          stdout=err, stderr=err, start_new_session=True)
        self.paused = False

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.popen is not None
            os.kill(self.popen.pid, sig)

    def kill(self) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        self.paused = False

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (after SIGCONT, a stopped process cannot act on it), then SIGKILL."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGCONT)
            os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.paused = False

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False


def run(argv: list[str], timeout: float = 30.0, check: bool = True,
        cwd: Path | None = None) -> str:
    """Run a helper command; on failure the error carries its output."""
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({res.returncode}): "
                           f"{res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


def wait_until(pred, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} did not happen within {timeout}s")


@dataclass
class Target:
    """Base class: N named nodes, a database name, and per-node processes."""

    workdir: Path
    schema: Path
    n: int = 1
    db: str = "Crucible"
    nodes: list[str] = field(default_factory=list)
    procs: dict[str, Proc] = field(default_factory=dict)
    capabilities: frozenset[str] = frozenset()
    clustered: bool = False
    notes: list[str] = field(default_factory=list)

    name = "base"

    def __post_init__(self) -> None:
        self.workdir = Path(self.workdir).resolve()  # ovsdb-server reads relative paths from its rundir
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.nodes:
            self.nodes = [f"n{i + 1}" for i in range(self.n)]

    # -- lifecycle (subclasses implement setup/remote) --------------------------------

    def setup(self) -> None:
        raise NotImplementedError

    def remote(self, node: str) -> str:
        raise NotImplementedError

    def wait_ready(self, node: str, timeout: float = 20.0) -> None:
        """Block until NODE answers as a connected member of its database."""

    def start(self, node: str) -> None:
        self.procs[node].start()

    def start_all(self) -> None:
        for node in self.nodes:
            self.start(node)
        for node in self.nodes:
            self.wait_ready(node)

    def stop(self, node: str) -> None:
        self.procs[node].stop()

    def kill(self, node: str) -> None:
        self.procs[node].kill()

    def restart(self, node: str) -> None:
        self.start(node)

    def pause(self, node: str) -> None:
        self.procs[node].pause()

    def resume(self, node: str) -> None:
        self.procs[node].resume()

    def alive(self, node: str) -> bool:
        return self.procs[node].alive()

    def leader(self) -> str | None:
        """The node that leads now; a lone server leads itself.  None: unknown."""
        return self.nodes[0] if len(self.nodes) == 1 else None

    # -- optional faults --------------------------------------------------------------

    def leave(self, node: str) -> None:
        raise Unsupported(f"{self.name}: graceful leave is not supported")

    def rejoin(self, node: str) -> None:
        raise Unsupported(f"{self.name}: rejoin is not supported")

    def partition(self, grudge: dict[str, set[str]]) -> None:
        """Each node drops everything it receives from the nodes in its grudge set."""
        raise Unsupported(f"{self.name}: partitions are not supported")

    def drop(self, node: str, probability: float) -> None:
        raise Unsupported(f"{self.name}: packet loss is not supported")

    def reset(self, node: str) -> None:
        raise Unsupported(f"{self.name}: connection resets are not supported")

    def delay(self, ms: float) -> None:
        """Add ``ms`` of latency each way on every link between members."""
        raise Unsupported(f"{self.name}: link delay is not supported")

    def heal(self) -> None:
        """Undo every network fault.  Safe to call when there is none."""

    # -- after the run ----------------------------------------------------------------

    def post_check(self) -> dict[str, Any] | None:
        """An offline consistency check of the target's files (None if it has none)."""
        return None

    def teardown(self) -> None:
        """Stop every process we started and undo every system change, even after a
        failure.  Idempotent."""
        self.heal_quietly()
        for proc in self.procs.values():
            try:
                proc.stop(timeout=5)
            except Exception:  # noqa: BLE001 - keep tearing down the rest
                proc.kill()

    def heal_quietly(self) -> None:
        try:
            self.heal()
        except Exception as e:  # noqa: BLE001 - teardown goes on
            self.notes.append(f"heal during teardown failed: {e}")

    def describe(self) -> dict[str, Any]:
        return {"target": self.name, "nodes": list(self.nodes), "db": self.db,
                "clustered": self.clustered, "capabilities": sorted(self.capabilities),
                "remotes": {n: self.remote(n) for n in self.nodes}, "notes": self.notes}

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()
