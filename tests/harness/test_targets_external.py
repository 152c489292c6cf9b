"""The external target end to end: a campaign against an ovsdb-server that only shell
commands know how to start, stop and kill (as a user would wire up their own server)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import orjson

from harness.campaign import CampaignConfig, run_campaign
from harness.nemesis.schedule import parse_kinds
from harness.targets.server import free_port

SCHEMA = Path(__file__).resolve().parents[2] / "harness" / "schemas" / "crucible.ovsschema"


def test_campaign_against_external_commands(tmp_path):
    d = tmp_path / "ext"
    d.mkdir()
    port = free_port()
    pid = d / "s.pid"
    start = (f"ovsdb-server --detach --no-chdir --pidfile={pid} --log-file={d}/s.log "
             f"--unixctl={d}/s.ctl --remote=ptcp:{port}:127.0.0.1 {d}/s.db")
    cfg_json = {
        "remotes": {"a": f"tcp:127.0.0.1:{port}"},
        "db": "Crucible",
        "setup": f"ovsdb-tool create {d}/s.db {SCHEMA}",
        "start": start,
        "ready": f"ovsdb-client --timeout=10 list-dbs tcp:127.0.0.1:{port}",
        "stop": f"kill $(cat {pid})",
        "kill": f"kill -9 $(cat {pid})",
        "teardown": f"if [ -f {pid} ]; then kill -9 $(cat {pid}) 2>/dev/null; fi; true",
    }
    path = tmp_path / "external.json"
    path.write_bytes(orjson.dumps(cfg_json))
    cfg = CampaignConfig(target="external", external_config=str(path), workload="counter",
                         nodes=1, time_s=8.0, seed=2, out=tmp_path / "out", workers=3,
                         keys=2, nemesis=parse_kinds("kill"), progress=False)
    try:
        results = run_campaign(cfg)
    finally:
        if pid.exists():  # whatever happened, the server we started is gone
            try:
                os.kill(int(pid.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    assert results["checkers"]["linearizability"]["verdict"] == "linearizable"
    assert [f["status"] for f in results["faults"]] == ["done"]  # the kill ran, via "kill"
    assert results["counts"]["ok"] > 20
