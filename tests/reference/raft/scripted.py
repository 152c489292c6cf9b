"""A hand-driven cluster for unit tests: every message waits in an outbox until the test
delivers it, every write waits until the test syncs it, and time moves only when the
test says so.  Tests read like a conversation between nodes."""

from __future__ import annotations

import random
from typing import Any

from reference.raft import messages as M
from reference.raft.durable import header_record
from reference.raft.node import NodeOptions, RaftNode, bootstrap_state
from reference.raft.ready import CommandReply, Committed, PersistOp

CID = "c1d00000-0000-4000-8000-000000000000"
GENESIS = "e1d00000-0000-4000-8000-000000000000"
SIDS = {n: f"{n * 8}-0000-4000-8000-000000000000" for n in "abcde"}
NAMES = {v: k for k, v in SIDS.items()}


def eid(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-eeeeeeeeeeee"


class Scripted:
    def __init__(self, names: str = "abc", options: NodeOptions | None = None,
                 timer: int = 1000, auto_sync: bool = True) -> None:
        servers = {SIDS[n]: f"tcp:{n}:6644" for n in names}
        self.auto_sync = auto_sync
        self.now = 0   # the test's clock: a message arrives at it; only tick fires timers
        self.cut: set[str] = set()   # names cut off: their messages are lost
        self.nodes: dict[str, RaftNode] = {}
        self.outbox: list[M.Message] = []
        self.records: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        self.unsynced: dict[str, list[PersistOp]] = {n: [] for n in names}
        self.committed: dict[str, list[Committed]] = {n: [] for n in names}
        self.replies: dict[str, list[CommandReply]] = {n: [] for n in names}
        self.events: list[dict[str, Any]] = []
        for i, n in enumerate(names):
            st = bootstrap_state(SIDS[n], CID, "T", servers[SIDS[n]], servers,
                                 [None, {"kv": {}}], GENESIS, timer)
            self.records[n] = [header_record(SIDS[n], CID, "T", servers[SIDS[n]],
                                             st.log.snapshot), {"term": 1}]
            self.nodes[n] = RaftNode(st, now_ms=0, rng=random.Random(i),
                                     options=options)
            self.flush(n)

    # --- driving ----------------------------------------------------------------------

    def flush(self, n: str) -> None:
        r = self.nodes[n].ready()
        self.unsynced[n] += r.persist
        self.committed[n] += r.committed
        self.replies[n] += r.replies
        self.events += r.events
        self.outbox += [s.message for s in r.messages]
        if self.auto_sync and self.unsynced[n]:
            self.sync(n)

    def sync(self, n: str) -> None:
        ops, self.unsynced[n] = self.unsynced[n], []
        for op in ops:
            self.records[n] = list(op.records) if op.rewrite else self.records[n] + list(
                op.records)
        if ops:
            self.nodes[n].persisted(ops[-1].seq)
        self.flush(n)

    def tick(self, n: str, now: int) -> None:
        self.now = max(self.now, now)
        self.nodes[n].tick(now)
        self.flush(n)

    def do(self, n: str, method: str, *args: Any) -> Any:
        out = getattr(self.nodes[n], method)(*args)
        self.flush(n)
        return out

    def sent(self, method: str | None = None, src: str | None = None,
             dst: str | None = None) -> list[M.Message]:
        return [m for m in self.outbox
                if (method is None or m.METHOD == method)
                and (src is None or m.sender == SIDS[src])
                and (dst is None or m.to == SIDS[dst])]

    def deliver(self, method: str | None = None, src: str | None = None,
                dst: str | None = None, *, drop: bool = False) -> list[M.Message]:
        """Delivers (or drops) the matching messages in the outbox, oldest first,
        through OVS's JSON and back."""
        chosen = self.sent(method, src, dst)
        for m in chosen:
            self.outbox.remove(m)
        if not drop:
            for m in chosen:
                if {NAMES[m.sender], NAMES.get(m.to or "")} & self.cut:
                    continue
                back = M.parse_message(*M.message_to_json(m))
                name = NAMES[m.to]  # type: ignore[index]
                node = self.nodes[name]
                node.now = max(node.now, self.now)
                node.step(back)
                self.flush(name)
        return chosen

    def settle(self, rounds: int = 50) -> None:
        """Delivers everything until nothing is left (bounded)."""
        for _ in range(rounds):
            if not self.outbox:
                return
            self.deliver()
        raise AssertionError("the cluster did not settle")

    def heartbeat(self, n: str) -> None:
        """Time for one heartbeat of leader n, delivered: followers learn the commit."""
        self.tick(n, self.now + self.nodes[n].election_timer // 3 + 1)
        self.settle()

    def elect(self, n: str, now: int = 2000) -> None:
        """n times out first and wins."""
        self.tick(n, now)
        self.settle()
        assert self.nodes[n].is_leader

    def actions(self, name: str | None = None) -> list[str]:
        return [e["action"] for e in self.events
                if name is None or e["server"] == SIDS[name]]
