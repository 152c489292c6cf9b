"""A hand-driven cluster for unit tests: every message waits in an outbox until the test
delivers it, every write waits until the test syncs it, and time moves only when the
test says so.  Tests read like a conversation between nodes."""

from __future__ import annotations

import random
from typing import Any

from reference.raft import messages
from reference.raft.durable import header, join_header, to_json
from reference.raft.membership import join_state
from reference.raft.node import NodeOptions, RaftNode, bootstrap_state
from reference.raft.ready import CommandReply, Committed, PersistOp, Send

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
        self.outbox: list[Send] = []
        self.records: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
        self.unsynced: dict[str, list[PersistOp]] = {n: [] for n in names}
        self.committed: dict[str, list[Committed]] = {n: [] for n in names}
        self.replies: dict[str, list[CommandReply]] = {n: [] for n in names}
        self.events: list[dict[str, Any]] = []
        self.delivered: list[messages.Message] = []
        self.dropped: list[dict[str, Any]] = []
        for i, n in enumerate(names):
            st = bootstrap_state(SIDS[n], CID, "T", servers[SIDS[n]], servers,
                                 [None, {"kv": {}}], GENESIS, timer)
            self.records[n] = [to_json(header(SIDS[n], CID, "T", servers[SIDS[n]],
                                              st.log.snapshot)), {"term": 1}]
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
        self.dropped += r.dropped
        self.outbox += r.messages
        if self.auto_sync and self.unsynced[n]:
            self.sync(n)

    def sync(self, n: str) -> None:
        ops, self.unsynced[n] = self.unsynced[n], []
        for op in ops:
            # What the file holds, as JSON: what tests compare against OVS's shapes.
            written = [to_json(r) for r in op.records]
            self.records[n] = written if op.rewrite else self.records[n] + written
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

    def _sends(self, method: str | None, src: str | None, dst: str | None) -> list[Send]:
        return [s for s in self.outbox
                if (method is None or s.message.METHOD == method)
                and (src is None or s.message.sender == SIDS[src])
                and (dst is None or self.dest(s) == dst)]

    def sent(self, method: str | None = None, src: str | None = None,
             dst: str | None = None) -> list[messages.Message]:
        return [s.message for s in self._sends(method, src, dst)]

    def dest(self, send: Send) -> str:
        """The name a message goes to: by sid, or by address (tcp:NAME:6644)."""
        if send.message.to is not None:
            return NAMES[send.message.to]
        return send.address.split(":")[1]  # type: ignore[union-attr]

    def add(self, n: str, remotes: str) -> None:
        """A new server n made by join-cluster, with the addresses of ``remotes``."""
        st = join_state(SIDS[n], "T", f"tcp:{n}:6644", [f"tcp:{r}:6644" for r in remotes])
        self.records[n] = [to_json(join_header(SIDS[n], "T", f"tcp:{n}:6644",
                                               st.remote_addresses))]
        for d in (self.unsynced, self.committed, self.replies):
            d[n] = []
        self.nodes[n] = RaftNode(st, now_ms=self.now, rng=random.Random(len(self.nodes)))
        self.flush(n)

    def deliver(self, method: str | None = None, src: str | None = None,
                dst: str | None = None, *, drop: bool = False) -> list[messages.Message]:
        """Delivers (or drops) the matching messages in the outbox, oldest first,
        through OVS's JSON and back."""
        chosen = self._sends(method, src, dst)
        for send in chosen:
            self.outbox.remove(send)
        if not drop:
            for send in chosen:
                name = self.dest(send)
                if {NAMES[send.message.sender], name} & self.cut or name not in self.nodes:
                    continue
                back = messages.parse_message(*messages.message_to_json(send.message))
                self.delivered.append(back)
                node = self.nodes[name]
                node.now = max(node.now, self.now)
                node.step(back)
                self.flush(name)
        return [send.message for send in chosen]

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
