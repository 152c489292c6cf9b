"""Targets: how to create, start, stop, kill, pause, partition and address N servers.

``make_target(kind, nodes, workdir, schema, external_config=None)`` picks one:
``ovsdb-server`` and ``reference`` (standalone for one node, a Raft cluster for more)
and ``external`` (remotes plus commands, from a JSON file).
"""

from __future__ import annotations

from pathlib import Path

from harness.targets.base import Target, Unsupported

KINDS = ("ovsdb-server", "reference", "external")

__all__ = ["KINDS", "Target", "Unsupported", "make_target"]


def make_target(kind: str, nodes: int, workdir: Path, schema: Path,
                external_config: str | None = None, use_netns: bool | None = None) -> Target:
    workdir = Path(workdir)
    if kind in ("ovsdb-server", "reference") and nodes != 1:
        from harness.targets.ovsdb_server import OvsdbCluster
        return OvsdbCluster(workdir=workdir, schema=schema, n=nodes, use_netns=use_netns,
                            server_kind=kind)
    if kind in ("ovsdb-server", "reference"):
        from harness.targets.standalone import Standalone
        return Standalone(workdir=workdir, schema=schema, n=1, server_kind=kind)
    if kind == "external":
        if not external_config:
            raise ValueError("the external target needs --external-config FILE.json")
        from harness.targets.external import External
        return External.from_file(external_config, workdir, schema)
    raise ValueError(f"unknown target {kind!r}: choose one of {', '.join(KINDS)}")
