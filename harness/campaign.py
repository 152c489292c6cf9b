"""``crucible campaign``: run a workload against a target while a nemesis injects faults,
record the history, check it, and write a report.

    crucible campaign --target ovsdb-server --nodes 3 --workload register \\
        --nemesis kill,pause,partition --time 30 --seed 7 --out out/run7

OUT holds ``history.jsonl`` (every op, event and fault, whatever the workload),
``results.json`` (one result per checker the workload names, the fault schedule,
counts), the checkers' files (``timeline.svg``, ``latency.png``, ``linear.html`` when
that check fails), ``report.html`` (verdicts, what failed with the history events
that show it, the pictures) and the servers' logs.  Exit status as for ``crucible check``: 0 every checker passed,
1 a checker found a violation, 2 a checker could not decide in time, 3 the campaign
could not run (bad arguments, a target that would not start).

Determinism: operations come from per-worker plans (``Workload.plan``; the monitor
workload's ``make_plan``) and faults from one schedule, all derived from ``--seed``;
rerunning with the same seed and arguments replays the same plan (timing, and so the
interleaving, is up to the machine).

Also: ``--seeds 1-10`` runs one campaign per seed into OUT/seed-N with a summary;
``--lie KIND[:COUNT]`` makes the client proxies corrupt a correct server's traffic
(``harness.proxy`` lying mode), which the checkers must catch (exit 1);
``--workload monitor`` runs writers and monitoring clients, checked for the monitor
properties instead of linearizability (every workload names its checkers and records
into the same history); ``--reads node --sync-reads off`` reads through followers.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import shlex
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from harness.checkers import (
    INVALID,
    UNKNOWN,
    CheckContext,
    ClusterCheck,
    run_checkers,
    validity_of,
)
from harness.checkers.cluster import EVENT as CLUSTER_EVENT
from harness.checkers.cluster import PROCESS as CLUSTER_PROCESS
from harness.history import Recorder
from harness.liar import LIES
from harness.nemesis.runner import Nemesis
from harness.nemesis.schedule import (
    CLIENT_FAULTS,
    NEEDS_TWO_NODES,
    Fault,
    parse_kinds,
    plan,
    schedule_problem,
)
from harness.targets import KINDS, Target, make_target
from harness.workloads import WORKLOADS, CampaignWorkload, RunEnv, Stats, make_workload

SCHEMA = Path(__file__).resolve().parent / "schemas" / "crucible.ovsschema"
EXIT_OK, EXIT_VIOLATION, EXIT_UNKNOWN, EXIT_UNUSABLE = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C (128 + SIGINT)


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
    max_txn_length: int = 4  # list-append: micro-ops per transaction, at most
    max_writes_per_key: int = 16  # list-append: appends before a key is rotated out
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
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="register")
    p.add_argument("--nemesis", default="none",
                   help="comma-separated faults: kill, pause, leave, partition (all shapes), "
                        "partition-one, partition-majority, partition-ring, "
                        "partition-bridge, one-way, drop, reset, delay, client-delay, "
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
    p.add_argument("--max-txn-length", type=int, default=4,
                   help="list-append: micro-ops per transaction, at most")
    p.add_argument("--max-writes-per-key", type=int, default=16,
                   help="list-append: appends to a key before it is replaced by a new one")
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
                   help="make the client proxies lie (" + ", ".join(
                       k.replace("_", "-") for k in LIES) + "; see harness/liar.py) "
                        "COUNT times (default 3) to show that the checkers catch it: "
                        "expect exit 1")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    a = p.parse_args(argv)
    tri = {"auto": None, "on": True, "off": False}
    lie, lie_count = parse_lie(a.lie) if a.lie else (None, 3)
    return CampaignConfig(
        target=a.target, workload=a.workload, nemesis=parse_kinds(a.nemesis), nodes=a.nodes,
        time_s=a.time, seed=a.seed, out=Path(a.out), workers=a.workers, keys=a.keys,
        max_txn_length=a.max_txn_length, max_writes_per_key=a.max_writes_per_key,
        reads=a.reads, prereq=tri[a.prereq], sync_reads=tri[a.sync_reads],
        op_timeout=a.op_timeout, check_timeout=a.check_timeout,
        external_config=a.external_config, netns=False if a.no_netns else None,
        lie=lie, lie_count=lie_count,
        seeds=parse_seeds(a.seeds) if a.seeds else None,
        progress=not a.quiet, argv=list(argv))


def parse_lie(spec: str) -> tuple[str, int]:
    """``"fake-ack:5"`` -> ("fake_ack", 5); hyphens or underscores, as nemeses are
    spelt with hyphens. ValueError with the choices or the bad count."""
    kind, colon, count = spec.partition(":")
    kind = kind.strip().replace("-", "_")
    if kind not in LIES:
        choices = ", ".join(k.replace("_", "-") for k in LIES)
        raise ValueError(f"unknown --lie {spec!r}: choose from {choices}")
    if not colon:
        return kind, 3
    if not count.strip().isdigit() or int(count) < 1:
        raise ValueError(f"bad --lie {spec!r}: COUNT must be a whole number of at least 1")
    return kind, int(count)


def config_problem(cfg: CampaignConfig) -> str | None:
    """Why this campaign would test nothing (None if it can run): no time, no workers,
    or faults asked for that cannot happen on this target in this time."""
    if not cfg.time_s > 0:
        return f"--time must be more than 0 seconds (got {cfg.time_s:g})"
    if cfg.workers < 1:
        return f"--workers must be at least 1 (got {cfg.workers})"
    if cfg.nodes < 1:
        return f"--nodes must be at least 1 (got {cfg.nodes})"
    if cfg.keys < 1:
        return f"--keys must be at least 1 (got {cfg.keys})"
    if cfg.max_txn_length < 1 or cfg.max_writes_per_key < 1:
        return "--max-txn-length and --max-writes-per-key must be at least 1"
    return schedule_problem(cfg.seed, cfg.nemesis, cfg.nodes, cfg.time_s)


def faults_injected(done: list[dict[str, Any]]) -> int:
    """How many faults of a run were injected and healed as planned."""
    return sum(1 for f in done if f.get("status") == "done")


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
                         seed: int = 0, recorder: Recorder | None = None) -> dict[str, Any]:
    """A FaultProxy in front of each node, when client-link faults or lies were asked
    for; it reaches members that listen on Unix sockets as well.
    A lie is armed to fire ``lie_count`` times after 20 eligible messages; each lie
    told is an event of process ``"proxy"`` in the history (for the timeline: the
    checkers never read it, they must find the lie on their own)."""
    if not lie and not any(k in CLIENT_FAULTS for k in kinds):
        return {}
    from harness.proxy import FaultProxy

    proxies: dict[str, Any] = {}
    for node in target.nodes:
        proxy = await FaultProxy.for_remote(target.remote(node), lying=bool(lie), seed=seed,
                                            on_event=_lie_recorder(recorder, node)).start()
        if lie:
            proxy.lie(lie, count=lie_count, skip=20)
        proxies[node] = proxy
    return proxies


def _lie_recorder(recorder: Recorder | None,
                  node: str) -> Callable[[str, dict[str, Any]], None] | None:
    if recorder is None:
        return None

    def on_event(name: str, params: dict[str, Any]) -> None:
        if name == "lie_told":
            recorder.event("lie-told", {"node": node, **params}, process="proxy")
    return on_event


def _lies(proxies: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"node": n, **told} for n, p in proxies.items() for told in p.lies_told]


DRAIN_S = 120.0  # last resort: a workload still running this long after stop is cancelled


async def _run(cfg: CampaignConfig, target: Target, workload: CampaignWorkload,
               recorder: Recorder, faults: list[Fault], progress: Progress) -> dict[str, Any]:
    """The one run path of every workload: set-up, then load and faults side by side
    until the load time is up (or the workload is done), then heal."""
    proxies = await _start_proxies(target, cfg.nemesis, cfg.lie, cfg.lie_count, cfg.seed,
                                   recorder)
    try:
        env = RunEnv(db=target.db, clustered=target.clustered, seed=cfg.seed,
                     time_s=cfg.time_s, workers=cfg.workers, reads=cfg.reads,
                     op_timeout=cfg.op_timeout,
                     remotes={n: (proxies[n].remote if n in proxies else target.remote(n))
                              for n in target.nodes},
                     direct={n: target.remote(n) for n in target.nodes})
        await workload.setup(env, recorder)
        t0 = time.monotonic()
        nemesis = Nemesis(target, recorder, faults, t0, proxies, progress.log)
        nemesis_stop = asyncio.Event()
        healing: asyncio.Future[list[str]] | None = None

        async def heal() -> list[str]:
            nemesis_stop.set()
            await asyncio.wait([ntask], timeout=30)
            return await nemesis.heal_all()

        async def quiesce() -> None:
            # Once, whoever asks first: the workload before it settles, or the end.
            nonlocal healing
            if healing is None:
                healing = asyncio.ensure_future(heal())
            await asyncio.shield(healing)

        env.quiesce = quiesce
        # Ctrl-C ends the load early, like the end of --time: what follows (heal, check,
        # report) still runs, and the results say the run was interrupted.
        interrupted = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, interrupted.set)
        recorder.event("campaign-start", {"seed": cfg.seed, "faults": len(faults)})
        ntask = asyncio.create_task(nemesis.run(nemesis_stop))
        wtask = asyncio.create_task(workload.run(env, recorder))
        try:
            while (not wtask.done() and not interrupted.is_set()
                   and (elapsed := time.monotonic() - t0) < cfg.time_s):
                progress.show(elapsed, env.stats, nemesis)
                await asyncio.wait([wtask], timeout=min(0.5, cfg.time_s - elapsed))
            progress.show(min(time.monotonic() - t0, cfg.time_s), env.stats, nemesis)
            if interrupted.is_set():
                progress.log("interrupted: stopping the load, healing, then checking what "
                             "was recorded (Ctrl-C again does not stop this)")
                recorder.event("campaign-interrupted",
                               {"after_s": round(time.monotonic() - t0, 3)})
        finally:
            env.stop.set()
            nemesis_stop.set()
            # The workload finishes what is in flight (each bounds its own wait).
            _, late = await asyncio.wait([wtask], timeout=DRAIN_S)
            for t in late:
                t.cancel()
            await quiesce()
            assert healing is not None
            heal_errors = healing.result()
            progress.done()
        if not (interrupted.is_set() and wtask.cancelled()):
            wtask.result()  # a workload that failed fails the campaign
        recorder.event("campaign-stop", env.stats.summary())
        return {"stats": env.stats, "nemesis": nemesis, "heal_errors": heal_errors,
                "lies": _lies(proxies), "interrupted": interrupted.is_set()}
    finally:
        for proxy in proxies.values():
            await proxy.stop()


def exit_code(checkers: dict[str, dict[str, Any]]) -> int:
    validities = [validity_of(c) for c in checkers.values()]
    if INVALID in validities:
        return EXIT_VIOLATION
    if UNKNOWN in validities:
        return EXIT_UNKNOWN
    return EXIT_OK


def run_campaign(cfg: CampaignConfig) -> dict[str, Any]:
    """Run one campaign; returns the results (also written to OUT/results.json).
    ValueError (before anything starts) for a campaign that would test nothing."""
    problem = config_problem(cfg)
    if problem:
        raise ValueError(problem)
    if cfg.nodes < 2 and (idle := [k for k in cfg.nemesis if k in NEEDS_TWO_NODES]):
        print(f"crucible campaign: warning: {','.join(idle)} cannot fault a single node: "
              "those faults will be skipped", file=sys.stderr)
    out = cfg.out
    if out.exists() and any(out.iterdir()):
        # Replace an earlier campaign's directory, never anything else.
        if not ((out / "history.jsonl").exists() or (out / "results.json").exists()):
            raise ValueError(f"{out} exists and does not hold a campaign: "
                             "choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    target = make_target(cfg.target, cfg.nodes, out / "servers", SCHEMA,
                         cfg.external_config, use_netns=cfg.netns)
    clustered = target.clustered
    prereq = clustered if cfg.prereq is None else cfg.prereq
    sync_reads = (clustered and cfg.reads == "leader") if cfg.sync_reads is None \
        else cfg.sync_reads
    workload = make_workload(cfg.workload, cfg.keys, prereq, sync_reads,
                             txn={"max_txn_length": cfg.max_txn_length,
                                  "max_writes_per_key": cfg.max_writes_per_key})
    progress = Progress(cfg.progress, cfg.time_s)
    recorder = Recorder(out / "history.jsonl")
    results: dict[str, Any] = {
        "command": "crucible campaign " + shlex.join(cfg.argv) if cfg.argv else None,
        "seed": cfg.seed, "target": cfg.target, "nodes": cfg.nodes, "workload": cfg.workload,
        "nemesis": cfg.nemesis, "time_s": cfg.time_s, "workers": cfg.workers,
        "keys": cfg.keys, "reads": cfg.reads, "checkers": {}}
    run_info: dict[str, Any] = {}
    started = time.time()
    post = None
    try:
        target.setup()
        target.start_all()
        results["target_info"] = target.describe()
        faults_plan = plan(cfg.seed, cfg.nemesis, target.nodes, cfg.time_s)
        results["schedule"] = [f.to_dict() for f in faults_plan]
        run_info = asyncio.run(_run(cfg, target, workload, recorder, faults_plan, progress))
    finally:
        for node in target.nodes:
            try:
                target.stop(node)
            except Exception as e:  # noqa: BLE001 - still tear down and report
                results.setdefault("teardown_errors", []).append(f"stop {node}: {e}")
        try:
            post = target.post_check()
        except Exception as e:  # noqa: BLE001
            post = {"ok": False, "output": f"post-check could not run: {e}"}
        if post is not None:  # the offline check's output goes into the history too
            recorder.event(CLUSTER_EVENT, post, process=CLUSTER_PROCESS)
        recorder.close()
        target.teardown()
        results["target_notes"] = list(target.notes)
    results["wall_s"] = round(time.time() - started, 2)
    stats: Stats = run_info["stats"]
    results["counts"] = dict(stats.counts)
    results["prereq"] = workload.prereq
    results["sync_reads"] = workload.sync_reads
    results["faults"] = run_info["nemesis"].done
    results["faults_injected"] = faults_injected(results["faults"])
    if cfg.nemesis and not results["faults_injected"]:
        # Faults were asked for and none happened: whatever the checkers say, this run
        # did not test the server under faults. Say so, here and in the report.
        results["no_faults_injected"] = True
        print("crucible campaign: warning: no faults injected (see the skipped faults "
              "in results.json)", file=sys.stderr)
    if run_info["interrupted"]:
        results["interrupted"] = True
    results["heal_errors"] = run_info["heal_errors"]
    if cfg.lie:
        results["lie"] = {"kind": cfg.lie, "armed": cfg.lie_count, "told": run_info["lies"]}
    # Every workload the same way: its checkers (and the target's, when it has an
    # offline check) on the history, nothing else.
    checkers = [*workload.checkers(), *([ClusterCheck()] if post is not None else [])]
    checked = run_checkers(checkers, recorder.ops,
                           CheckContext(out=out, timeout_s=cfg.check_timeout))
    results["checkers"] = {name: r.to_dict() for name, r in checked.items()}
    results["exit"] = exit_code(results["checkers"])
    results["verdict_line"] = verdict_line(results)
    (out / "results.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2,
                                                    default=str))
    from harness.report import write_report
    write_report(out, results, recorder.ops)
    return results


def print_summary(results: dict[str, Any], out: Path) -> None:
    print(f"seed {results['seed']}: {results['target']} x{results['nodes']}, "
          f"{results['workload']}, faults {','.join(results['nemesis']) or 'none'}, "
          f"{results.get('counts')}")
    for name, c in results["checkers"].items():
        if c.get("picture"):
            continue  # the timeline and the latency plot: in the report
        line = c.get("summary") or c.get("output", "")[:200]
        print(f"  {name}: {c['verdict']}" + (f"  ({line})" if line else ""))
    print(results.get("verdict_line") or verdict_line(results))
    print(f"report: {out / 'report.html'}")


def verdict_line(results: dict[str, Any]) -> str:
    """One line: the overall verdict and how many faults it was reached under."""
    word = {EXIT_OK: "pass", EXIT_VIOLATION: "VIOLATION", EXIT_UNKNOWN: "unknown"}.get(
        results["exit"], "could not run")
    n = results.get("faults_injected", 0)
    planned = len(results.get("schedule", []))
    text = f"verdict: {word} with {n} fault{'s' if n != 1 else ''} injected"
    if planned != n:
        text += f" (of {planned} planned)"
    if results.get("no_faults_injected"):
        text += ": no faults injected, so nothing was tested under faults"
    if results.get("interrupted"):
        text += "; INTERRUPTED (Ctrl-C): only what was recorded before it was checked"
    return text


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
            row["verdicts"] = {k: v["verdict"] for k, v in res["checkers"].items()
                               if not v.get("picture")}
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
    except KeyboardInterrupt:
        # Ctrl-C outside the load (starting the target, or checking): nothing to report.
        print(f"\ncrucible campaign: interrupted; the history so far is in "
              f"{cfg.out / 'history.jsonl'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (ValueError, RuntimeError, TimeoutError, OSError) as e:
        print(f"crucible campaign: could not run: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception:  # noqa: BLE001 - a harness bug: show it, but exit like `check`
        traceback.print_exc()
        print("crucible campaign: internal error (above); the history so far is in "
              f"{cfg.out / 'history.jsonl'}", file=sys.stderr)
        return EXIT_UNUSABLE
    print_summary(results, cfg.out)
    if results.get("interrupted"):
        return EXIT_INTERRUPTED
    return int(results["exit"])
