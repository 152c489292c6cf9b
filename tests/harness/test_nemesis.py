"""Nemesis: partition shapes, the seeded schedule, and the runner (on a fake target)."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.history import Recorder
from harness.nemesis import grudges
from harness.nemesis.runner import Nemesis
from harness.nemesis.schedule import ALL_FAULTS, Fault, parse_kinds, plan
from harness.targets.base import KILL, PARTITION, PAUSE, Target

node_lists = st.integers(3, 7).map(lambda n: [f"n{i + 1}" for i in range(n)])


def _sees(grudge, a, b):
    """Does a receive from b?"""
    return b not in grudge.get(a, set())


def _components_ok(grudge, nodes):
    # Symmetric: a partition, never a one-way cut.
    return all(_sees(grudge, a, b) == _sees(grudge, b, a) for a in nodes for b in nodes)


@settings(max_examples=60, deadline=None)
@given(nodes=node_lists, seed=st.integers(0, 10_000))
def test_partition_shapes(nodes, seed):
    rng = random.Random(seed)
    m = len(nodes) // 2 + 1
    one = grudges.one_node(nodes, rng)
    assert _components_ok(one, nodes)
    lone = [n for n in nodes if len(one[n]) == len(nodes) - 1]
    assert len(lone) == 1
    mm = grudges.majority_minority(nodes, rng)
    assert _components_ok(mm, nodes)
    sides = {frozenset(n2 for n2 in nodes if _sees(mm, n, n2)) for n in nodes}
    assert sorted(len(s) for s in sides) == sorted([m, len(nodes) - m])
    ring = grudges.majorities_ring(nodes, rng)
    views = [frozenset(b for b in nodes if _sees(ring, a, b)) for a in nodes]
    assert all(len(v) == m for v in views)  # everyone sees a majority...
    assert len(set(views)) == len(nodes)  # ...and no two the same one
    br = grudges.bridge(nodes, rng)
    assert _components_ok(br, nodes)
    bridges = [n for n in nodes if not br[n]]
    assert len(bridges) == 1
    others = [n for n in nodes if n != bridges[0]]
    assert any(not _sees(br, a, b) for a in others for b in others)
    ow = grudges.one_way(nodes, rng)
    ((dst, srcs),) = ow.items()
    (src,) = srcs
    assert src != dst and _sees(ow, src, dst) and not _sees(ow, dst, src)


def test_same_seed_same_schedule_and_different_seed_differs():
    kinds = parse_kinds("all")
    nodes = ["n1", "n2", "n3"]
    a = plan(7, kinds, nodes, 60)
    assert a == plan(7, kinds, nodes, 60)
    assert a != plan(8, kinds, nodes, 60)
    assert len(a) >= 5
    # One fault at a time, inside the run, with a quiet start and end.
    for prev, nxt in zip(a, a[1:], strict=False):
        assert nxt.start >= prev.end
    assert a[0].start >= 2.0 and a[-1].end <= 60 - 3.0


def test_parse_kinds():
    assert parse_kinds("none") == [] and parse_kinds("") == []
    assert parse_kinds("kill,kill,pause") == ["kill", "pause"]
    assert "partition-ring" in parse_kinds("partition")
    assert set(parse_kinds("client")) <= set(ALL_FAULTS)
    with pytest.raises(ValueError, match="unknown nemesis 'bogus'"):
        parse_kinds("kill,bogus")


class FakeTarget(Target):
    """Records what the nemesis asked for; can kill, pause and partition."""

    name = "fake"

    def __post_init__(self):
        super().__post_init__()
        self.capabilities = frozenset({KILL, PAUSE, PARTITION})
        self.calls = []

    def setup(self):
        pass

    def remote(self, node):
        return "tcp:127.0.0.1:1"

    def kill(self, node):
        self.calls.append(("kill", node))

    def restart(self, node):
        self.calls.append(("restart", node))

    def pause(self, node):
        self.calls.append(("pause", node))

    def resume(self, node):
        self.calls.append(("resume", node))

    def partition(self, grudge):
        self.calls.append(("partition", {k: sorted(v) for k, v in grudge.items()}))

    def heal(self):
        self.calls.append(("heal",))


def test_runner_injects_undoes_records_and_skips(tmp_path: Path):
    target = FakeTarget(workdir=tmp_path, schema=tmp_path / "s", n=3)
    faults = [
        Fault(0, "kill", 0.0, 0.05, ("n1",)),
        Fault(1, "partition-one", 0.06, 0.05, (), {"n2": ["n1", "n3"], "n1": ["n2"],
                                                    "n3": ["n2"]}),
        Fault(2, "drop", 0.12, 0.05, ("n3",), params={"probability": 0.3}),
        Fault(3, "pause", 0.18, 10.0, ("n2",)),  # cut short by the stop below
    ]
    rec = Recorder()

    async def main():
        nem = Nemesis(target, rec, faults, time.monotonic())
        stop = asyncio.Event()
        task = asyncio.create_task(nem.run(stop))
        deadline = time.monotonic() + 5
        while ("pause", "n2") not in target.calls and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(task, 5)
        await nem.heal_all()
        return nem

    nem = asyncio.run(main())
    assert target.calls[:4] == [("kill", "n1"), ("restart", "n1"), ("partition", {
        "n1": ["n2"], "n2": ["n1", "n3"], "n3": ["n2"]}), ("heal",)]
    assert ("pause", "n2") in target.calls and ("resume", "n2") in target.calls
    events = [(op.f, op.value.get("id")) for op in rec.ops]
    assert events[:4] == [("start-kill", 0), ("stop-kill", 0), ("start-partition-one", 1),
                          ("stop-partition-one", 1)]
    assert ("skip-drop", 2) in events  # the fake target cannot drop packets
    skipped = [d for d in nem.done if d["status"] == "skipped"]
    assert skipped and "cannot drop" in skipped[0]["reason"]
    assert all(op.process == "nemesis" and op.type == "info" for op in rec.ops)


def test_leader_faults_aim_at_the_leader_of_the_moment(tmp_path: Path):
    class Led(FakeTarget):
        def leader(self):
            return "n2"

    target = Led(workdir=tmp_path, schema=tmp_path / "s", n=3)
    kinds = ["kill-leader", "isolate-leader"]
    faults = [Fault(0, "kill-leader", 0.0, 0.02), Fault(1, "isolate-leader", 0.03, 0.02)]
    assert all(f.kind in kinds for f in plan(3, kinds, target.nodes, 30))
    rec = Recorder()

    async def main():
        nem = Nemesis(target, rec, faults, time.monotonic())
        await asyncio.wait_for(nem.run(asyncio.Event()), 5)

    asyncio.run(main())
    assert target.calls[:2] == [("kill", "n2"), ("restart", "n2")]
    assert target.calls[2] == ("partition", {"n1": ["n2"], "n2": ["n1", "n3"], "n3": ["n2"]})
    starts = [op.value for op in rec.ops if op.f.startswith("start-")]
    assert starts[0]["nodes"] == ["n2"]  # the history names the member actually hit


def test_delaying_link_process_adds_its_delay_each_way():
    """``python -m harness.nemesis.link`` as netns runs it: says ready, then relays to
    the peer with DELAY_MS added in each direction."""
    import subprocess
    import sys
    import time

    from harness.targets.server import REPO, free_port

    async def main():
        async def echo(reader, writer):
            while data := await reader.read(100):
                writer.write(data)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        peer_port = server.sockets[0].getsockname()[1]
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "harness.nemesis.link", "127.0.0.1",
                                 str(port), "127.0.0.1", str(peer_port), "150", "127.0.0.1"],
                                cwd=REPO, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)
            assert line.strip() == b"ready"
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            start = time.monotonic()
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
            assert time.monotonic() - start >= 0.3  # 150 ms there, 150 ms back
            writer.close()
        finally:
            proc.kill()
            proc.wait(10)
            server.close()
            await server.wait_closed()

    asyncio.run(main())
