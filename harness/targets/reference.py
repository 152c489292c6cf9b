"""Our reference server as a target, started like ovsdb-server, through the ``crucible``
command line only (the harness never imports ``reference``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from harness.targets.base import KILL, PAUSE, Proc, run
from harness.targets.ovsdb_server import OvsdbStandalone, free_port

REPO = Path(__file__).resolve().parents[2]


@dataclass
class ReferenceStandalone(OvsdbStandalone):
    name = "reference"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.capabilities = frozenset({KILL, PAUSE})

    def setup(self) -> None:
        node = self.nodes[0]
        db = self.workdir / f"{node}.db"
        cli = [sys.executable, "-m", "harness.cli"]
        if not db.exists():
            run([*cli, "db", "create", str(db), str(self.schema)])
        self.port = self.port or free_port()
        w = self.workdir
        argv = [*cli, "serve", f"--remote=ptcp:{self.port}:127.0.0.1",
                f"--pidfile={w / (node + '.pid')}", f"--log-file={w / (node + '.log')}",
                f"--unixctl={w / (node + '.ctl')}", str(db)]
        self.procs[node] = Proc(argv, w / f"{node}.stderr", cwd=REPO)
