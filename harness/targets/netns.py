"""A private network of Linux network namespaces, one per cluster member.

Why: the real ovsdb-server advertises the address it binds, so no userspace proxy can
sit between two members on one loopback.  Each member gets its own namespace with one
veth into a bridge that lives in a further namespace of ours; nothing is added to the
host's own namespace, and the subnet (10.99.0.0/24) exists only inside these
namespaces, so there is no route to anywhere else.  Faults are iptables rules inside
the member namespaces, the way Jepsen cuts links: a grudge "a drops from b" is an INPUT
DROP rule for b's address in a's namespace.

Clients reach members through Unix sockets in the filesystem (they cross namespaces),
so client links are never cut by a partition, as in Jepsen where the control node keeps
talking to every node.

No ``tc netem`` here: the test kernel has no sch_netem, so delay is unsupported and
packet loss uses the iptables ``statistic`` match instead.
"""

from __future__ import annotations

import itertools
import os
import subprocess

from harness.targets.base import run

SUBNET = "10.99.0"
_counter = itertools.count()


def available() -> tuple[bool, str]:
    """Whether we may build namespaces here, and if not, why."""
    if os.geteuid() != 0:
        return False, "not root: network namespaces need root"
    name = f"crprobe{os.getpid()}"
    try:
        run(["ip", "netns", "add", name], timeout=10)
        run(["ip", "netns", "del", name], timeout=10)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        return False, f"cannot create network namespaces: {e}"
    try:
        run(["iptables", "--version"], timeout=10)
    except (RuntimeError, OSError) as e:
        return False, f"iptables is missing: {e}"
    return True, ""


class Netns:
    """Namespaces ``<prefix>-br`` (bridge) and ``<prefix>-<node>`` (one per member)."""

    def __init__(self, nodes: list[str]) -> None:
        self.nodes = list(nodes)
        self.prefix = f"cr{os.getpid() % 100000}x{next(_counter)}"
        self.bridge_ns = f"{self.prefix}-br"
        self.created: list[str] = []
        self.faulty: set[str] = set()

    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def ip(self, node: str) -> str:
        return f"{SUBNET}.{self.nodes.index(node) + 1}"

    def exec_prefix(self, node: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns(node)]

    def create(self) -> None:
        run(["ip", "netns", "add", self.bridge_ns])
        self.created.append(self.bridge_ns)
        run(["ip", "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", self.bridge_ns, "link", "set", "br0", "up"])
        for i, node in enumerate(self.nodes):
            ns = self.ns(node)
            run(["ip", "netns", "add", ns])
            self.created.append(ns)
            port = f"v{i + 1}"
            run(["ip", "-n", self.bridge_ns, "link", "add", port, "type", "veth",
                 "peer", "name", "eth0", "netns", ns])
            run(["ip", "-n", self.bridge_ns, "link", "set", port, "master", "br0"])
            run(["ip", "-n", self.bridge_ns, "link", "set", port, "up"])
            run(["ip", "-n", ns, "addr", "add", f"{self.ip(node)}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])

    def _iptables(self, node: str, *args: str) -> None:
        run([*self.exec_prefix(node), "iptables", "-w", "5", *args])
        self.faulty.add(node)

    def partition(self, grudge: dict[str, set[str]]) -> None:
        for node, enemies in grudge.items():
            for other in sorted(enemies):
                if other != node:
                    self._iptables(node, "-A", "INPUT", "-s", self.ip(other), "-j", "DROP")

    def drop(self, node: str, probability: float) -> None:
        """NODE loses this fraction of the packets it receives from other members."""
        self._iptables(node, "-A", "INPUT", "-s", f"{SUBNET}.0/24", "-m", "statistic",
                       "--mode", "random", "--probability", f"{probability:.3f}",
                       "-j", "DROP")

    def reset(self, node: str) -> None:
        """Answer NODE's incoming TCP segments from members with RST: established Raft
        connections die at their next packet.  The caller heals after a moment."""
        self._iptables(node, "-A", "INPUT", "-p", "tcp", "-s", f"{SUBNET}.0/24",
                       "-j", "REJECT", "--reject-with", "tcp-reset")

    def heal(self) -> None:
        for node in sorted(self.faulty):
            run([*self.exec_prefix(node), "iptables", "-w", "5", "-F", "INPUT"])
        self.faulty.clear()

    def rules(self, node: str) -> str:
        return run([*self.exec_prefix(node), "iptables", "-S", "INPUT"])

    def destroy(self) -> list[str]:
        """Delete every namespace we made (their veths go with them); returns errors."""
        errors = []
        for ns in reversed(self.created):
            res = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
            if res.returncode != 0:
                errors.append(f"ip netns del {ns}: {res.stderr.strip()}")
        self.created.clear()
        self.faulty.clear()
        return errors
