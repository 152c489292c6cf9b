"""A target we do not run ourselves: remotes plus shell commands per node.

Configured by a JSON file::

    {"remotes": {"n1": "tcp:10.0.0.1:6641", ...},
     "db": "Crucible", "clustered": true,
     "setup": "cmd", "teardown": "cmd",
     "start": "cmd {node}", "stop": "cmd {node}", "kill": "cmd {node}",
     "pause": "cmd {node}", "resume": "cmd {node}", "ready": "cmd {node}"}

Every command but ``start`` is optional; the faults it enables follow from which are
given (``kill`` needs ``kill`` and ``start``; ``pause`` needs ``pause`` and ``resume``).
Commands run with ``sh -c``; ``{node}`` and ``{remote}`` are substituted.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from harness.targets.base import KILL, PAUSE, Target, Unsupported


@dataclass
class External(Target):
    name = "external"
    config: dict[str, Any] = field(default_factory=dict)
    up: set[str] = field(default_factory=set)

    @classmethod
    def from_file(cls, path: str | Path, workdir: Path, schema: Path) -> External:
        cfg = orjson.loads(Path(path).read_bytes())
        return cls(workdir=workdir, schema=schema, config=cfg)

    def __post_init__(self) -> None:
        remotes = self.config.get("remotes") or {}
        if not remotes:
            raise ValueError("external target: the config needs a non-empty 'remotes' map")
        self.nodes = list(remotes)
        self.n = len(self.nodes)
        super().__post_init__()
        self.db = self.config.get("db", self.db)
        self.clustered = bool(self.config.get("clustered", self.n > 1))
        caps = set()
        if "kill" in self.config and "start" in self.config:
            caps.add(KILL)
        if "pause" in self.config and "resume" in self.config:
            caps.add(PAUSE)
        self.capabilities = frozenset(caps)

    def _run(self, what: str, node: str | None = None, required: bool = True) -> None:
        cmd = self.config.get(what)
        if not cmd:
            if required:
                raise Unsupported(f"external target: no {what!r} command configured")
            return
        if node is not None:
            cmd = cmd.replace("{node}", shlex.quote(node)).replace(
                "{remote}", shlex.quote(self.remote(node)))
        res = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"external {what} ({cmd}) failed: {res.stderr.strip()}")

    def setup(self) -> None:
        self._run("setup", required=False)

    def remote(self, node: str) -> str:
        return self.config["remotes"][node]

    def wait_ready(self, node: str, timeout: float = 20.0) -> None:
        self._run("ready", node, required=False)

    def start(self, node: str) -> None:
        self._run("start", node, required=False)
        self.up.add(node)

    def stop(self, node: str) -> None:
        self._run("stop", node, required=False)
        self.up.discard(node)

    def kill(self, node: str) -> None:
        self._run("kill", node)
        self.up.discard(node)

    def pause(self, node: str) -> None:
        self._run("pause", node)

    def resume(self, node: str) -> None:
        self._run("resume", node)

    def alive(self, node: str) -> bool:
        return node in self.up

    def teardown(self) -> None:
        self._run("teardown", required=False)
