"""One standalone server as a target: the real ovsdb-server or ours.

Both are created and started by ``harness.targets.server`` (the one way the harness,
the tests and the benchmarks start servers); this adds the target's interface: one
node, named files in the target's directory, kill and pause.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.targets.base import KILL, PAUSE, Proc, Target
from harness.targets.server import REPO, create_db, free_port, server_argv, wait_for_port


@dataclass
class Standalone(Target):
    """One server on 127.0.0.1 with a standalone database file."""

    server_kind: str = "ovsdb-server"  # or "reference"
    port: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n != 1 or len(self.nodes) != 1:
            raise ValueError(f"the standalone {self.server_kind} target has exactly one node")
        self.name = self.server_kind
        self.capabilities = frozenset({KILL, PAUSE})

    def setup(self) -> None:
        node = self.nodes[0]
        db = self.workdir / f"{node}.db"
        if not db.exists():
            create_db(self.server_kind, db, self.schema)
        self.port = self.port or free_port()
        argv = server_argv(self.server_kind, self.port, self.workdir, node, [db])
        self.procs[node] = Proc(argv, self.workdir / f"{node}.stderr", cwd=REPO)

    def remote(self, node: str) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    def wait_ready(self, node: str, timeout: float = 20.0) -> None:
        proc = self.procs[node]
        wait_for_port(self.port, proc.alive, timeout, f"{node} (see {proc.log})")
