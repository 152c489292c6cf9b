"""A deterministic whole-cluster simulator for the sans-I/O Raft node, driven by one
seed: N members, each with a disk, a drifting clock and a state machine; a network that
drops, delays, duplicates, reorders and partitions (every shape, leader-targeted too);
crashes that lose unsynced writes and tear the last record; restarts; leadership
transfers; follower compaction; joins, kicks and leaves; client commands through any
member.  The properties of ``raft_checks`` are checked as events happen (votes, leaders,
applies, acks, restarts), electable completeness also at every commit, and both it and
log matching every 16 steps and at the end.

    simulate(seed, steps, ...) -> SimResult      the schedule, the trace and a verdict
    crucible simulate --seeds 1-300 [--steps N] [--bug NAME]    (simulation/cli.py)

Every random choice comes from ``random.Random(seed)`` (and generators seeded from it),
so a seed's run, and its schedule, reproduce exactly.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from reference.raft.durable import header, join_header, restore
from reference.raft.membership import join_state
from reference.raft.messages import Message, VoteReply, message_to_json, parse_message
from reference.raft.node import LEADER, NodeOptions, RaftNode, bootstrap_state
from reference.raft.ready import SUCCESS
from reference.storage.cluster_records import Term
from reference.storage.log_file import StorageError
from simulation.raft_checks import App, SafetyChecker, Violation, command_data
from simulation.raft_disk import Disk
from simulation.raft_network import Network

KEYS = ("a", "b", "c")
DEFAULT_STEPS = 1000      # events per seed (README, "crucible simulate": why 1000)
# uuid.UUID(int=..., version=4)'s bit twiddling: clear the variant and version bits,
# then set variant RFC 4122 and version 4.
_UUID_CLEAR = ~((0xc000 << 48) | (0xf000 << 64))
_UUID_V4 = (0x8000 << 48) | (4 << 76)


class FastRandom(random.Random):
    """random.Random whose randint and choice, called for nearly every event, are two
    calls deep instead of four (the same numbers: CPython's rejection sampling)."""

    def randint(self, a: int, b: int) -> int:
        return a + self._below(b - a + 1)

    def choice(self, seq: Any) -> Any:
        if not seq:
            raise IndexError("cannot choose from an empty sequence")
        return seq[self._below(len(seq))]

    def _below(self, n: int) -> int:
        k = n.bit_length()
        r = self.getrandbits(k)
        while r >= n:
            r = self.getrandbits(k)
        return r


@dataclass(frozen=True)
class SimOptions:
    nodes: int = 0                 # 0: the seed draws 3 or 5 (3 when not ``vary``)
    election_timer: int = 100      # ms (OVS's minimum), to elect in few steps
    tick_ms: int = 10
    client_every_ms: tuple[int, int] = (3, 20)
    nemesis_every_ms: tuple[int, int] = (50, 500)
    fsync_ms: tuple[int, int] = (0, 25)
    drop: float = 0.02
    duplicate: float = 0.02
    max_delay_ms: int = 30
    # The share of delivered messages that go through OVS's JSON and back (the node
    # then sees fresh, parsed objects, never the sender's).  A separate generator picks
    # them, so the share never shifts a seed's schedule.
    json_roundtrip: float = 0.25
    slow_disk: float = 0.1         # chance that an fsync takes up to 300 ms
    strike_new_leader: float = 0.3  # chance a new leader is isolated or killed at once
    vary: bool = True              # the seed also picks nodes (3|5), drops, batch, pipelining
    node: NodeOptions = field(default_factory=NodeOptions)

    def varied(self, rng: random.Random) -> SimOptions:
        """These options with the cluster's shape drawn from ``rng`` (when ``vary``)."""
        if not self.vary:
            return replace(self, nodes=self.nodes or 3)
        node = replace(self.node, max_batch=rng.choice((1, 1, 4, 64)),
                       max_inflight=rng.choice((1, 2, 4)))
        nodes = rng.choice((3, 3, 5))     # drawn even when fixed: the same seed, the same rest
        return replace(self, nodes=self.nodes or nodes, drop=rng.choice((0.02, 0.1, 0.15)),
                       node=node)


@dataclass
class SimResult:
    seed: int
    ok: bool
    violation: str | None
    steps: int
    logged: list[tuple[int, str, tuple]]   # (time, template, args): see ``schedule``
    trace: list[dict[str, Any]]
    stats: dict[str, int]

    @property
    def schedule(self) -> list[str]:
        """What happened, one line per logged event (formatted only when asked for:
        a passing seed's schedule is seldom read)."""
        return [_line(i, item) for i, item in enumerate(self.logged)]

    def tail(self, n: int = 60) -> list[str]:
        first = max(0, len(self.logged) - n)
        return [_line(i, self.logged[i]) for i in range(first, len(self.logged))]

    def headline(self) -> str:
        return (f"seed {self.seed}: {'ok' if self.ok else 'VIOLATION: ' + str(self.violation)}"
                f" after {self.steps} steps; {self.stats}")

    def report(self, tail: int = 60) -> str:
        head = self.headline()
        if self.ok:
            return head
        lines = self.tail(tail)
        return "\n".join([head, f"schedule (last {len(lines)} of {len(self.logged)} "
                          f"steps; rerun simulate({self.seed}) to reproduce):", *lines])


def _line(i: int, item: tuple[int, str, tuple]) -> str:
    now, template, args = item
    return f"{i:>5} {now:>7}ms {template.format(*args) if args else template}"


class Member:
    def __init__(self, sid: str, disk: Disk) -> None:
        self.sid = sid
        self.disk = disk
        self.node: RaftNode | None = None
        self.app = App(sid[:8])
        self.incarnation = 0
        self.last_sync_at = 0
        self.on_disk: Any = None     # while crashed: the state its disk holds
        self.address = ""
        self.joined = True           # in a committed configuration once
        self.removed = False         # out of the cluster for good (kicked, left)
        self.clock_rate = 0.0        # drawn at first use


class Cluster:
    def __init__(self, seed: int, opts: SimOptions) -> None:
        self.seed = seed
        self.rng = FastRandom(seed)
        self.opts = opts = opts.varied(self.rng)
        self.now = 0
        self._q: list[tuple[int, int, Any, tuple]] = []   # (time, order, handler, args)
        self._n = 0
        self.logged: list[tuple[int, str, tuple]] = []
        self.trace: list[dict[str, Any]] = []
        self.check = SafetyChecker()
        self.stats = {"nodes": opts.nodes, "drop%": int(opts.drop * 100), "batch": opts.node.max_batch,
                      "inflight": opts.node.max_inflight, "proposed": 0, "acked": 0, "failed": 0, "elections": 0,
                      "crashes": 0, "joins": 0, "snapshots": 0, "installs": 0, "transfers": 0,
                      "messages": 0}
        self._uuid_rng = random.Random(seed * 7919 + 1)
        self._clock_rng = random.Random(seed * 7919 + 2)
        self._wire_rng = random.Random(seed * 7919 + 3)
        self.cid = self._uuid()
        sids = sorted(self._uuid() for _ in range(opts.nodes))
        servers = {s: f"tcp:10.0.0.{i + 1}:6641" for i, s in enumerate(sids)}
        self.members: dict[str, Member] = {}
        self.by_address = {a: s for s, a in servers.items()}
        self.network = Network(sids, FastRandom(self.rng.random()), drop=opts.drop,
                               duplicate=opts.duplicate, max_delay_ms=opts.max_delay_ms)
        genesis = self._uuid()
        for sid in sids:
            st = bootstrap_state(sid, self.cid, "Sim", servers[sid], servers,
                                 [None, {"kv": {}}], genesis, opts.election_timer)
            disk = Disk([header(sid, self.cid, "Sim", servers[sid], st.log.snapshot),
                         Term(1)])
            m = self.members[sid] = Member(sid, disk)
            m.address = servers[sid]
            self._start(m, st, restarted=False)
        self._push(0, self._do_tick, ())
        self._push(self._between(opts.client_every_ms), self._do_client, ())
        self._push(self._between(opts.nemesis_every_ms), self._do_nemesis, ())
        self._value = 0
        self._pending: dict[str, str] = {}   # eid -> sid it was proposed through

    # --- helpers ----------------------------------------------------------------------

    def _uuid(self) -> str:
        # str(uuid.UUID(int=bits, version=4)), without building the object.
        bits = self._uuid_rng.getrandbits(128) & _UUID_CLEAR | _UUID_V4
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _between(self, span: tuple[int, int]) -> int:
        return self.now + self.rng.randint(*span)

    def _push(self, at: int, handler: Any, args: tuple) -> None:
        self._n += 1
        heapq.heappush(self._q, (at, self._n, handler, args))

    def _log(self, template: str, *args: Any) -> None:
        """Logs ``template.format(*args)`` (formatted only when read), or ``template``
        itself when there are no ``args``."""
        self.logged.append((self.now, template, args))

    def up(self) -> list[Member]:
        return [m for m in self.members.values() if m.node is not None]

    def clock(self, m: Member) -> int:
        """m's own clock: it runs a little fast or slow (members measure timeouts on
        their own clocks), and restarts from wherever it stood."""
        if m.clock_rate == 0.0:
            m.clock_rate = self._clock_rng.uniform(0.9, 1.1)
        return int(self.now * m.clock_rate)

    def active(self) -> list[Member]:
        return [m for m in self.members.values() if not m.removed]

    def all_logs(self) -> list[Any]:
        """Every member's log as it would be after a restart: a running member's, or
        what a crashed member's disk holds."""
        out = []
        for m in self.members.values():
            if m.node is not None:
                out.append(m.node)
            elif m.on_disk is not None:
                out.append(m.on_disk)
        return out

    def _start(self, m: Member, state: Any, restarted: bool) -> None:
        m.app = App(m.sid[:8])
        m.node = RaftNode(state, now_ms=self.clock(m), rng=random.Random(self.rng.random()),
                          options=self.opts.node, restarted=restarted)
        self._drain(m)

    # --- the run ------------------------------------------------------------------------

    def run(self, steps: int) -> SimResult:
        violation = None
        done = 0
        try:
            for done in range(1, steps + 1):
                at, _, handler, args = heapq.heappop(self._q)
                if at > self.now:
                    self.now = at
                handler(*args)
                if done % 16 == 0:
                    self.check.check_log_matching([m.node for m in self.up()])  # type: ignore[misc]
                    self.check.check_electable_complete(self.all_logs())
            self.check.check_log_matching([m.node for m in self.up()])  # type: ignore[misc]
            for m in self.up():
                if m.node.role == LEADER:  # type: ignore[union-attr]
                    self.check.check_leader_complete(m.node)  # type: ignore[arg-type]
            self.check.check_acked()
        except Violation as v:
            violation = str(v)
            self._log(f"VIOLATION {v}")
        return SimResult(self.seed, violation is None, violation, done, self.logged,
                         self.trace, dict(self.stats))

    def _drain(self, m: Member) -> None:
        node = m.node
        assert node is not None
        r = node.ready()
        for op in r.persist:
            m.disk.write(op)
            latency = (self.rng.randint(25, 300) if self.rng.random() < self.opts.slow_disk
                       else self.rng.randint(*self.opts.fsync_ms))
            m.last_sync_at = max(m.last_sync_at, self.now + latency)
            self._push(m.last_sync_at, self._do_sync, (m.sid, m.incarnation, op.seq))
        if r.snapshot is not None:
            m.app.load(r.snapshot)
            self.check.on_loaded(node, m.app, r.snapshot)
        for c in r.committed:
            if c.index <= m.app.index:
                continue
            m.app.apply(c)
            self.check.on_applied(node, m.app, c)
        for ev in r.events:
            ev["time"] = self.now
            self.trace.append(ev)
            if ev["action"] == "HandleInstallSnapshot":
                self.stats["installs"] += 1
            elif ev["action"] == "BecomeLeader":
                self.stats["elections"] += 1
                self.check.on_leader(node)
                if self.rng.random() < self.opts.strike_new_leader:
                    # Leader-targeted, at the worst moment: before its no-op spreads.
                    self._push(self.now + self.rng.randint(0, 5), self._do_strike, (m.sid,))
        commits = False
        for ev in r.events:
            commits = commits or ev["action"] == "AdvanceCommitIndex"
        for send in r.messages:
            msg = send.message
            if isinstance(msg, VoteReply) and not msg.is_prevote and msg.vote == msg.to:
                self.check.on_vote_sent(m.sid, msg.term, msg.vote)
            self._send(m, msg, send.address)
        if commits:
            self.check.check_electable_complete(self.all_logs())
        for rep in r.replies:
            self._pending.pop(rep.result, None)
            if rep.status == SUCCESS:
                self.stats["acked"] += 1
                self.check.on_ack(rep.result, rep.commit_index)
            else:
                self.stats["failed"] += 1

    def _send(self, src: Member, msg: Message, address: str | None = None) -> None:
        dst = msg.to or self.by_address.get(address or "")
        if dst not in self.members or not self.network.can_send(src.sid, dst):
            return
        target = self.members[dst]
        for delay in self.network.delays():
            self.stats["messages"] += 1
            self._push(self.now + delay, self._do_deliver, (dst, target.incarnation, msg))

    # --- events -------------------------------------------------------------------------

    def _do_deliver(self, dst: str, incarnation: int, msg: Message) -> None:
        m = self.members[dst]
        if m.node is None or m.incarnation != incarnation:
            return  # the connection died with the process
        if self._wire_rng.random() < self.opts.json_roundtrip:
            method, params = message_to_json(msg)
            msg = parse_message(method, orjson.loads(orjson.dumps(params)))
        self._log("deliver {} {:.4}->{:.4} {}", msg.METHOD, msg.sender, dst,
                  getattr(msg, "term", ""))
        m.node.step(msg)
        self._drain(m)

    def _do_sync(self, sid: str, incarnation: int, seq: int) -> None:
        m = self.members[sid]
        if m.node is None or m.incarnation != incarnation:
            return
        m.disk.sync(seq)
        m.node.persisted(seq)
        self._drain(m)

    def _do_tick(self) -> None:
        for m in self.up():
            m.node.tick(self.clock(m))  # type: ignore[union-attr]
            self._drain(m)
        self._push(self.now + self.opts.tick_ms, self._do_tick, ())

    def _do_client(self) -> None:
        self._push(self._between(self.opts.client_every_ms), self._do_client, ())
        up = self.up()
        if not up:
            return
        m = self.rng.choice(up)
        node = m.node
        assert node is not None
        key = self.rng.choice(KEYS)
        self._value += 1
        eid = self._uuid()
        if node.role == LEADER:
            # As ovsdb-server chains a leader's proposals: prereq is the log's current
            # eid, and the old value the one after the uncommitted entries (the last
            # of them to set the key).
            prereq, old = node.log.current_eid, m.app.kv.get(key)
            log = node.log
            for i in range(log.last_index, node.commit_index, -1):
                d = log.entry(i).data
                if d is not None and d[1]["Sim"]["key"] == key:
                    old = d[1]["Sim"]["new"]
                    break
        else:
            prereq, old = node.applied_eid, m.app.kv.get(key)
        self.stats["proposed"] += 1
        self._log("client via {:.4}: {} {}->{} eid {:.8}", m.sid, key, old, self._value, eid)
        self._pending[eid] = m.sid
        node.propose(command_data(key, old, self._value), prereq, eid)
        self._drain(m)

    def _do_restart(self, sid: str) -> None:
        m = self.members[sid]
        if m.removed:
            return
        try:
            state = restore(m.disk.reopen())
        except StorageError as e:
            if "has left the cluster" in str(e):
                self._log(f"decommission {sid[:4]} (left before it crashed)")
                m.removed = True
                return
            raise Violation(f"{sid[:8]} cannot restart: {e}") from None
        self.check.on_restart(sid, state.term, state.vote)
        self._log(f"restart {sid[:4]} (term {state.term}, log to {state.log.last_index}, "
                  f"commit {state.commit_index})")
        m.on_disk = None
        self._start(m, state, restarted=True)

    def _do_nemesis(self) -> None:
        self._push(self._between(self.opts.nemesis_every_ms), self._do_nemesis, ())
        rng = self.rng
        self._decommission([m for m in self.up() if m.node.role == LEADER])  # type: ignore[union-attr]
        up = self.up()
        leaders = [m for m in up if m.node.role == LEADER]  # type: ignore[union-attr]
        roll = rng.random()
        if roll < 0.25:
            down = len(self.active()) - len(up)
            if down < (len(self.active()) - 1) // 2 + 1 and up:
                victim = rng.choice(leaders if leaders and rng.random() < 0.5 else up)
                self._crash(victim)
        elif roll < 0.45:
            # Leader-targeted half of the time, as Jepsen's nemeses do.
            first = leaders[0].sid if leaders and rng.random() < 0.5 else None
            self._log(self.network.partition(first=first))
        elif roll < 0.65:
            self._log(self.network.heal())
        elif roll < 0.75 and leaders:
            target = leaders[0].node.transfer_leadership()  # type: ignore[union-attr]
            self._log(f"transfer leadership from {leaders[0].sid[:4]} to "
                      f"{(target or '-')[:4]}")
            self.stats["transfers"] += 1
            self._drain(leaders[0])
        elif roll < 0.95:
            followers = [m for m in up if m.node.role != LEADER]  # type: ignore[union-attr]
            if followers:
                m = rng.choice(followers)
                if m.node.take_snapshot(m.app.index, m.app.snapshot_data()):  # type: ignore[union-attr]
                    self._log(f"snapshot {m.sid[:4]} at {m.app.index}")
                    self.stats["snapshots"] += 1
                    self._drain(m)
        elif leaders:
            self._change_membership(leaders[0])

    def _change_membership(self, leader: Member) -> None:
        """Kick a follower, let one leave, or add a new server (3 to 5 members)."""
        rng, node = self.rng, leader.node
        assert node is not None
        if node._config_uncommitted() or node.remove_server or node.add_servers:
            return
        config = sorted(node.servers)
        if len(config) > 3 and rng.random() < 0.6:
            victim = self.members[rng.choice([s for s in config if s != leader.sid])]
            if rng.random() < 0.5 or victim.node is None:
                self._log(f"kick {victim.sid[:4]}: {node.kick(victim.sid)}")
                self._drain(leader)
            else:
                self._log(f"leave {victim.sid[:4]}")
                victim.node.leave()
                self._drain(victim)
        elif len(config) < 5:
            self._add_member([self.members[s].address for s in config])

    def _add_member(self, addresses: list[str]) -> None:
        sid = self._uuid()
        address = f"tcp:10.0.1.{len(self.members) + 1}:6641"
        remotes = self.rng.sample(addresses, self.rng.randint(1, len(addresses)))
        m = self.members[sid] = Member(sid, Disk([join_header(sid, "Sim", address, remotes)]))
        m.address, m.joined = address, False
        self.by_address[address] = sid
        self.network.sids.append(sid)
        self.stats["joins"] += 1
        self._log(f"join {sid[:4]} at {address} via {len(remotes)} remote(s)")
        self._start(m, join_state(sid, "Sim", address, remotes), restarted=False)

    def _decommission(self, leaders: list[Member]) -> None:
        """Stops members the committed configuration no longer holds (or that left)."""
        committed: set[str] = set()
        for lm in leaders:
            n = lm.node
            committed |= set(n.log.servers_through(n.commit_index))  # type: ignore[union-attr]
        for m in self.active():
            if m.sid in committed:
                m.joined = True
            gone = m.node is not None and m.node.left
            if gone or (leaders and m.joined and m.sid not in committed):
                self._log(f"decommission {m.sid[:4]}")
                m.node, m.removed = None, True
                m.incarnation += 1

    def _do_strike(self, sid: str) -> None:
        m = self.members[sid]
        if m.node is None:
            return
        if self.rng.random() < 0.5:
            self._log(self.network.partition("isolate-one", first=sid))
        elif len(self.up()) == len(self.members):
            self._crash(m)

    def _crash(self, m: Member) -> None:
        what = m.disk.crash(self.rng)
        m.node = None
        m.incarnation += 1
        self.stats["crashes"] += 1
        self._log(f"crash {m.sid[:4]}: {what}")
        try:
            m.on_disk = restore(m.disk.image())
        except StorageError:
            m.on_disk = None  # reported when it restarts
        self._push(self.now + self.rng.randint(20, 800), self._do_restart, (m.sid,))


def simulate(seed: int, steps: int = DEFAULT_STEPS, opts: SimOptions | None = None) -> SimResult:
    """Runs one seed for ``steps`` events and returns the verdict."""
    return Cluster(seed, opts or SimOptions()).run(steps)
