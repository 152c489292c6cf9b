"""``crucible campaign``: run a workload against a target while a nemesis injects faults,
record the history, check it, and write a report.

    crucible campaign --target ovsdb-server --nodes 3 --workload register \\
        --nemesis kill,pause,partition --time 30 --seed 7 --out out/run7

OUT holds ``history.jsonl`` (every op and fault), ``results.json`` (one verdict per
checker, the fault schedule, counts), ``report.html`` (timeline with fault bands, a
latency plot, links to the linearizability picture when a check fails) and the
servers' logs.  Exit status as for ``crucible check``: 0 every checker passed,
1 a checker found a violation, 2 a checker could not decide in time, 3 the campaign
could not run (bad arguments, a target that would not start).

Determinism: operations come from per-worker streams and faults from one schedule,
all derived from ``--seed``; rerunning with the same seed and arguments replays the
same plan (timing, and so the interleaving, is up to the machine).

Also: ``--seeds 1-10`` runs one campaign per seed into OUT/seed-N with a summary;
``--lie KIND[:COUNT]`` makes the client proxies corrupt a correct server's traffic
(``harness.proxy`` lying mode), which the checkers must catch (exit 1);
``--workload monitor`` runs the monitor workload and checker instead of a
linearizability workload; ``--reads node --sync-reads off`` reads through followers.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shlex
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from harness.history import Recorder
from harness.nemesis.runner import Nemesis
from harness.nemesis.schedule import CLIENT_FAULTS, Fault, parse_kinds, plan
from harness.targets import KINDS, Target, make_target
from harness.workloads import WORKLOADS, make_workload
from harness.workloads.driver import DriverConfig, Stats, run_worker, setup_rows

SCHEMA = Path(__file__).resolve().parent / "schemas" / "crucible.ovsschema"
EXIT_OK, EXIT_VIOLATION, EXIT_UNKNOWN, EXIT_UNUSABLE = 0, 1, 2, 3


@dataclass
class CampaignConfig:
    target: str = "ovsdb-server"
    workload: str = "register"
    nemesis: list[str] = field(default_factory=list)
    nodes: int = 1
    time_s: float = 20.0
    seed: int = 0
    out: Path = Path("out/campaign")
    workers: int = 5
    keys: int = 4
    reads: str = "leader"
    prereq: bool | None = None  # None: on for clusters
    sync_reads: bool | None = None  # None: on when reads go to the leader of a cluster
    op_timeout: float = 2.0
    check_timeout: float = 60.0
    external_config: str | None = None
    netns: bool | None = None
    lie: str | None = None  # a FaultProxy lie told on client links (checker self-test)
    lie_count: int = 3
    seeds: list[int] | None = None  # several campaigns, one per seed, under OUT/seed-N
    progress: bool = True
    argv: list[str] = field(default_factory=list)


def parse_args(argv: list[str]) -> CampaignConfig:
    p = argparse.ArgumentParser(
        prog="crucible campaign",
        description="Run a workload against a target while a nemesis injects faults; "
                    "record, check and report.  Exit 0 pass, 1 violation, 2 unknown, "
                    "3 could not run.")
    p.add_argument("--target", choices=KINDS, default="ovsdb-server")
    p.add_argument("--workload", choices=[*sorted(WORKLOADS), "monitor"], default="register")
    p.add_argument("--nemesis", default="none",
                   help="comma-separated faults: kill, pause, leave, partition (all shapes), "
                        "partition-one, partition-majority, partition-ring, "
                        "partition-bridge, one-way, drop, reset, client-delay, "
                        "client-drop, client-reset, kill-leader, pause-leader, "
                        "isolate-leader, or groups process, network, client, leader, all")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--time", type=float, default=20.0, help="seconds of load")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", help="run one campaign per seed (e.g. 1-10 or 1,4,9) into "
                                   "OUT/seed-N and summarise them in OUT/summary.json")
    p.add_argument("--out", default="out/campaign")
    p.add_argument("--workers", type=int, default=5)
    p.add_argument("--keys", type=int, default=4)
    p.add_argument("--reads", choices=["leader", "node"], default="leader",
                   help="leader: reads through the leader; node: worker i reads through "
                        "node i mod N (followers: stale reads expected on a cluster)")
    p.add_argument("--prereq", choices=["auto", "on", "off"], default="auto",
                   help="writes start with a wait on the last value seen (auto: clusters)")
    p.add_argument("--sync-reads", choices=["auto", "on", "off"], default="auto",
                   help="reads also bump a counter so they commit through Raft "
                        "(auto: on for leader reads on a cluster)")
    p.add_argument("--op-timeout", type=float, default=2.0)
    p.add_argument("--check-timeout", type=float, default=60.0)
    p.add_argument("--external-config", help="JSON file for --target external")
    p.add_argument("--no-netns", action="store_true",
                   help="cluster members share loopback (process faults only)")
    p.add_argument("--lie", metavar="KIND[:COUNT]",
                   help="make the client proxies lie (stale_read, fake_ack, drop_update, "
                        "...; see harness/liar.py) COUNT times (default 3) to show that "
                        "the checkers catch it: expect exit 1")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    a = p.parse_args(argv)
    tri = {"auto": None, "on": True, "off": False}
    lie, _, count = (a.lie or "").partition(":")
    return CampaignConfig(
        target=a.target, workload=a.workload, nemesis=parse_kinds(a.nemesis), nodes=a.nodes,
        time_s=a.time, seed=a.seed, out=Path(a.out), workers=a.workers, keys=a.keys,
        reads=a.reads, prereq=tri[a.prereq], sync_reads=tri[a.sync_reads],
        op_timeout=a.op_timeout, check_timeout=a.check_timeout,
        external_config=a.external_config, netns=False if a.no_netns else None,
        lie=lie or None, lie_count=int(count) if count else 3,
        seeds=parse_seeds(a.seeds) if a.seeds else None,
        progress=not a.quiet, argv=list(argv))


class Progress:
    """One status line while the campaign runs (rewritten in place on a terminal)."""

    def __init__(self, enabled: bool, total: float) -> None:
        self.enabled = enabled
        self.total = total
        self.tty = sys.stderr.isatty()
        self._last_line = 0.0

    def show(self, elapsed: float, stats: Stats, nemesis: Nemesis | None) -> None:
        if not self.enabled:
            return
        fault = nemesis.active.describe() if nemesis and nemesis.active else "-"
        line = f"[{elapsed:5.1f}/{self.total:.0f} s] {stats.summary()}  fault: {fault}"
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
            sys.stderr.flush()
        elif elapsed - self._last_line >= 5 or elapsed >= self.total:
            self._last_line = elapsed
            print(line, file=sys.stderr, flush=True)

    def log(self, msg: str) -> None:
        if self.enabled:
            prefix = "\n" if self.tty else ""
            print(prefix + msg, file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")


async def _start_proxies(target: Target, kinds: list[str],
                         lie: str | None = None, lie_count: int = 3,
                         seed: int = 0) -> dict[str, Any]:
    """A FaultProxy in front of each node, when client-link faults or lies were asked
    for; it reaches members that listen on Unix sockets as well.
    A lie is armed to fire ``lie_count`` times after 20 eligible messages."""
    if not lie and not any(k in CLIENT_FAULTS for k in kinds):
        return {}
    from harness.proxy import FaultProxy

    proxies: dict[str, Any] = {}
    for node in target.nodes:
        proxy = await FaultProxy.for_remote(target.remote(node), lying=bool(lie),
                                            seed=seed).start()
        if lie:
            proxy.lie(lie, count=lie_count, skip=20)
        proxies[node] = proxy
    return proxies


def _lies(proxies: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"node": n, **told} for n, p in proxies.items() for told in p.lies_told]


async def _run_monitor(cfg: CampaignConfig, target: Target, recorder: Recorder,
                       faults: list[Fault], progress: Progress) -> dict[str, Any]:
    """The monitor workload (``harness.workloads.monitor``): writers and monitoring
    clients on the first node, monitors through a fault proxy when there is one."""
    from harness.workloads.monitor import MonitorConfig, run_monitor_workload

    proxies = await _start_proxies(target, cfg.nemesis, cfg.lie, cfg.lie_count, cfg.seed)
    node = target.nodes[0]
    try:
        mcfg = MonitorConfig(db=target.db, seed=cfg.seed, time_limit_s=cfg.time_s,
                             txns=100_000, write_pause_s=0.05,
                             clients=max(1, cfg.workers - 2))
        stats = Stats()
        stop = asyncio.Event()
        t0 = time.monotonic()
        nemesis = Nemesis(target, recorder, faults, t0, proxies, progress.log)
        recorder.event("campaign-start", {"seed": cfg.seed, "faults": len(faults)})
        ntask = asyncio.create_task(nemesis.run(stop))
        monitor_remote = proxies[node].remote if node in proxies else target.remote(node)
        wtask = asyncio.create_task(run_monitor_workload(target.remote(node), monitor_remote,
                                                         mcfg))
        try:
            while not wtask.done():
                progress.show(time.monotonic() - t0, stats, nemesis)
                await asyncio.wait([wtask], timeout=0.5)
        finally:
            stop.set()
            await asyncio.wait([ntask], timeout=30)
            heal_errors = await nemesis.heal_all()
            progress.done()
        run = wtask.result()
        recorder.event("campaign-stop", {"transactions": len(run.writes["txns"])})
        return {"workload": None, "stats": stats, "nemesis": nemesis,
                "heal_errors": heal_errors, "prereq": False, "sync_reads": False,
                "monitor_run": run, "lies": _lies(proxies)}
    finally:
        for proxy in proxies.values():
            await proxy.stop()


async def _run(cfg: CampaignConfig, target: Target, recorder: Recorder,
               faults: list[Fault], progress: Progress) -> dict[str, Any]:
    if cfg.workload == "monitor":
        return await _run_monitor(cfg, target, recorder, faults, progress)
    clustered = target.clustered
    prereq = clustered if cfg.prereq is None else cfg.prereq
    sync_reads = (clustered and cfg.reads == "leader") if cfg.sync_reads is None \
        else cfg.sync_reads
    workload = make_workload(cfg.workload, cfg.keys, prereq, sync_reads)
    proxies = await _start_proxies(target, cfg.nemesis, cfg.lie, cfg.lie_count, cfg.seed)
    try:
        remotes = {n: (proxies[n].remote if n in proxies else target.remote(n))
                   for n in target.nodes}
        dcfg = DriverConfig(db=target.db, remotes=remotes, clustered=clustered,
                            workers=cfg.workers, reads=cfg.reads, op_timeout=cfg.op_timeout)
        await setup_rows(workload, dcfg, recorder)
        stats = Stats()
        stop = asyncio.Event()
        t0 = time.monotonic()
        nemesis = Nemesis(target, recorder, faults, t0, proxies, progress.log)
        recorder.event("campaign-start", {"seed": cfg.seed, "faults": len(faults)})
        tasks = [asyncio.create_task(run_worker(i, workload, dcfg, recorder, cfg.seed, stop,
                                                stats, t0)) for i in range(cfg.workers)]
        ntask = asyncio.create_task(nemesis.run(stop))
        try:
            while (elapsed := time.monotonic() - t0) < cfg.time_s:
                progress.show(elapsed, stats, nemesis)
                await asyncio.sleep(min(0.5, cfg.time_s - elapsed))
            progress.show(cfg.time_s, stats, nemesis)
        finally:
            stop.set()
            # Workers finish their op in flight (bounded by the op and leader timeouts).
            grace = cfg.op_timeout + dcfg.leader_wait + 5
            _, late = await asyncio.wait([*tasks, ntask], timeout=grace)
            for t in late:
                t.cancel()
            heal_errors = await nemesis.heal_all()
            progress.done()
        for t in tasks:
            if not t.cancelled() and t.exception() is not None:
                raise t.exception()  # type: ignore[misc]
        recorder.event("campaign-stop", stats.summary())
        return {"workload": workload, "stats": stats, "nemesis": nemesis,
                "heal_errors": heal_errors, "prereq": prereq, "sync_reads": sync_reads,
                "lies": _lies(proxies)}
    finally:
        for proxy in proxies.values():
            await proxy.stop()


def _check(cfg: CampaignConfig, ops: list[Any], model: str) -> tuple[dict[str, Any], Any]:
    from harness.linear import LINEARIZABLE, check, write_html

    result = check(ops, model, timeout_s=cfg.check_timeout)
    entry: dict[str, Any] = {"verdict": result.verdict, "model": model,
                             "summary": result.summary()}
    try:
        entry["details"] = result.details()
    except Exception as e:  # noqa: BLE001 - the verdict matters more than the details
        entry["details_error"] = str(e)
    if result.verdict != LINEARIZABLE:
        write_html(result, cfg.out / "linear.html")
        entry["html"] = "linear.html"
    return entry, result


def _check_monitor(cfg: CampaignConfig, run: Any) -> dict[str, Any]:
    report = run.check()
    (cfg.out / "monitor.json").write_bytes(orjson.dumps(
        {**run.to_dict(), "report": report.to_dict()}, default=str))
    failed = sorted(report.failed())
    verdict = "failed" if failed else ("error" if report.problems else "ok")
    summary = f"{len(run.writes['txns'])} txns, {len(run.streams)} clients; " + (
        f"violated: {', '.join(failed)}" if failed else
        ("; ".join(report.problems)[:300] if report.problems else "every property holds"))
    return {"verdict": verdict, "summary": summary, "properties": report.verdicts(),
            "notes": run.notes, "data": "monitor.json"}


def exit_code(checkers: dict[str, dict[str, Any]]) -> int:
    verdicts = [c.get("verdict") for c in checkers.values()]
    if any(v in ("not-linearizable", "failed", "invalid") for v in verdicts):
        return EXIT_VIOLATION
    if any(v in ("unknown", "error") for v in verdicts):
        return EXIT_UNKNOWN
    return EXIT_OK


def run_campaign(cfg: CampaignConfig) -> dict[str, Any]:
    """Run one campaign; returns the results (also written to OUT/results.json)."""
    out = cfg.out
    if out.exists() and any(out.iterdir()):
        # Replace an earlier campaign's directory, never anything else.
        if not ((out / "history.jsonl").exists() or (out / "results.json").exists()):
            raise ValueError(f"{out} exists and does not hold a campaign: "
                             "choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    faults_plan = None
    target = make_target(cfg.target, cfg.nodes, out / "servers", SCHEMA,
                         cfg.external_config, use_netns=cfg.netns)
    progress = Progress(cfg.progress, cfg.time_s)
    recorder = Recorder(out / "history.jsonl")
    results: dict[str, Any] = {
        "command": "crucible campaign " + shlex.join(cfg.argv) if cfg.argv else None,
        "seed": cfg.seed, "target": cfg.target, "nodes": cfg.nodes, "workload": cfg.workload,
        "nemesis": cfg.nemesis, "time_s": cfg.time_s, "workers": cfg.workers,
        "keys": cfg.keys, "reads": cfg.reads, "checkers": {}}
    run_info: dict[str, Any] = {}
    started = time.time()
    try:
        target.setup()
        target.start_all()
        results["target_info"] = target.describe()
        faults_plan = plan(cfg.seed, cfg.nemesis, target.nodes, cfg.time_s)
        results["schedule"] = [f.to_dict() for f in faults_plan]
        run_info = asyncio.run(_run(cfg, target, recorder, faults_plan, progress))
    finally:
        recorder.close()
        for node in target.nodes:
            try:
                target.stop(node)
            except Exception as e:  # noqa: BLE001 - still tear down and report
                results.setdefault("teardown_errors", []).append(f"stop {node}: {e}")
        try:
            post = target.post_check()
        except Exception as e:  # noqa: BLE001
            post = {"ok": False, "output": f"post-check could not run: {e}"}
        target.teardown()
        results["target_notes"] = list(target.notes)
    results["wall_s"] = round(time.time() - started, 2)
    stats: Stats = run_info["stats"]
    results["counts"] = dict(stats.counts)
    results["prereq"] = run_info["prereq"]
    results["sync_reads"] = run_info["sync_reads"]
    results["faults"] = run_info["nemesis"].done
    results["heal_errors"] = run_info["heal_errors"]
    if cfg.lie:
        results["lie"] = {"kind": cfg.lie, "armed": cfg.lie_count, "told": run_info["lies"]}
    workload = run_info["workload"]
    if workload is not None:
        lin_entry, _ = _check(cfg, recorder.ops, workload.model)
        results["checkers"]["linearizability"] = lin_entry
    if "monitor_run" in run_info:
        results["checkers"]["monitor"] = _check_monitor(cfg, run_info["monitor_run"])
    if post is not None:
        results["checkers"]["check-cluster"] = {
            "verdict": "ok" if post.get("ok") else "failed", **post}
    results["exit"] = exit_code(results["checkers"])
    (out / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2,
                                                    default=str))
    from harness.report import write_report
    write_report(out, results, recorder.ops, stats.latencies)
    return results


def print_summary(results: dict[str, Any], out: Path) -> None:
    print(f"seed {results['seed']}: {results['target']} x{results['nodes']}, "
          f"{results['workload']}, faults {','.join(results['nemesis']) or 'none'}, "
          f"{results.get('counts')}")
    for name, c in results["checkers"].items():
        line = c.get("summary") or c.get("output", "")[:200]
        print(f"  {name}: {c['verdict']}" + (f"  ({line})" if line else ""))
    print(f"report: {out / 'report.html'}")


def parse_seeds(spec: str) -> list[int]:
    """``"1-3,7"`` -> [1, 2, 3, 7]."""
    seeds: list[int] = []
    for part in spec.split(","):
        lo, dash, hi = part.strip().partition("-")
        try:
            seeds += list(range(int(lo), int(hi) + 1)) if dash else [int(lo)]
        except ValueError:
            raise ValueError(f"bad --seeds {spec!r}: use e.g. 1-10 or 1,4,9") from None
    if not seeds:
        raise ValueError(f"bad --seeds {spec!r}: no seed in it")
    return seeds


def _argv_for_seed(argv: list[str], seed: int, out: Path) -> list[str]:
    """The single-campaign command line that reruns one seed of a --seeds run."""
    keep: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in ("--seeds", "--seed", "--out"):
            skip = "=" not in arg
            continue
        keep.append(arg)
    return [*keep, "--seed", str(seed), "--out", str(out)]


def worst_exit(codes: list[int]) -> int:
    for code in (EXIT_UNUSABLE, EXIT_VIOLATION, EXIT_UNKNOWN):
        if code in codes:
            return code
    return EXIT_OK


def run_seeds(cfg: CampaignConfig) -> int:
    assert cfg.seeds
    rows = []
    for seed in cfg.seeds:
        out = cfg.out / f"seed-{seed}"
        one = dataclasses.replace(cfg, seed=seed, out=out, seeds=None,
                                  argv=_argv_for_seed(cfg.argv, seed, out))
        code = _main_one(one)
        row: dict[str, Any] = {"seed": seed, "exit": code, "out": str(out)}
        if (out / "results.json").exists() and code != EXIT_UNUSABLE:
            res = orjson.loads((out / "results.json").read_bytes())
            row["verdicts"] = {k: v["verdict"] for k, v in res["checkers"].items()}
            row["counts"] = res.get("counts")
            row["faults"] = [f["text"] for f in res.get("faults", [])
                             if f.get("status") == "done"]
        rows.append(row)
    code = worst_exit([r["exit"] for r in rows])
    (cfg.out / "summary.json").write_bytes(orjson.dumps(
        {"exit": code, "campaigns": rows}, option=orjson.OPT_INDENT_2))
    print(f"\n{len(rows)} campaigns, summary in {cfg.out / 'summary.json'}:")
    for r in rows:
        verdicts = ", ".join(f"{k} {v}" for k, v in r.get("verdicts", {}).items())
        print(f"  seed {r['seed']}: exit {r['exit']}  {verdicts or 'did not run'}")
    return code


def main(argv: list[str]) -> int:
    try:
        cfg = parse_args(argv)
    except ValueError as e:
        print(f"crucible campaign: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    except SystemExit as e:
        return EXIT_UNUSABLE if e.code else EXIT_OK
    if cfg.seeds:
        return run_seeds(cfg)
    return _main_one(cfg)


def _main_one(cfg: CampaignConfig) -> int:
    try:
        results = run_campaign(cfg)
    except (ValueError, RuntimeError, TimeoutError, OSError) as e:
        print(f"crucible campaign: could not run: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception:  # noqa: BLE001 - a harness bug: show it, but exit like `check`
        traceback.print_exc()
        print("crucible campaign: internal error (above); the history so far is in "
              f"{cfg.out / 'history.jsonl'}", file=sys.stderr)
        return EXIT_UNUSABLE
    print_summary(results, cfg.out)
    return int(results["exit"])
