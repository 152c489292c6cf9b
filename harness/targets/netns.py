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

No ``tc netem`` here: the test kernel has no sch_netem, so packet loss uses the
iptables ``statistic`` match, and delay redirects (DNAT) each member's connections to
its peers into a delaying link (``python -m harness.nemesis.link``) run inside the
member's own namespace; existing connections are reset so that new ones take the
links.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

from harness.targets.base import run
from harness.targets.server import REPO

RELAY_BASE_PORT = 7100

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
        self.relays: list[subprocess.Popen] = []

    def ns(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def ip(self, node: str) -> str:
        return f"{SUBNET}.{self.nodes.index(node) + 1}"

    def relay_ip(self, node: str) -> str:
        """A second address of the member, used only by its delay relays."""
        return f"{SUBNET}.{self.nodes.index(node) + 101}"

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
            run(["ip", "-n", ns, "addr", "add", f"{self.relay_ip(node)}/24", "dev", "eth0"])
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

    def reset(self, node: str, port: int = 6644) -> None:
        """Abort NODE's established TCP connections to and from ``port`` (``ss -K``:
        the kernel drops them and the peers see resets); members then reconnect."""
        res = subprocess.run([*self.exec_prefix(node), "ss", "-K", "(", "dport", "=",
                              str(port), "or", "sport", "=", str(port), ")"],
                             capture_output=True, text=True, timeout=10)
        if res.returncode != 0:
            raise RuntimeError(f"ss -K in {self.ns(node)} failed: {res.stderr.strip()}")

    def delay(self, ms: float, raft_port: int, timeout: float = 10.0) -> None:
        """Every member's connections to its peers go through a relay adding ``ms``
        each way."""
        for node in self.nodes:
            for peer in self.nodes:
                if peer == node:
                    continue
                port = RELAY_BASE_PORT + self.nodes.index(peer)
                proc = subprocess.Popen(
                    [*self.exec_prefix(node), sys.executable, "-m",
                     "harness.nemesis.link", self.ip(node), str(port), self.ip(peer),
                     str(raft_port), str(ms), self.relay_ip(node)],
                    cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                    stdin=subprocess.DEVNULL, start_new_session=True)
                self.relays.append(proc)
                assert proc.stdout is not None
                if proc.stdout.readline().strip() != b"ready":
                    raise RuntimeError(f"delay relay in {node} for {peer} did not start")
                self._iptables(node, "-t", "nat", "-A", "OUTPUT", "-p", "tcp",
                               "!", "-s", self.relay_ip(node), "-d",
                               self.ip(peer), "--dport", str(raft_port), "-j", "DNAT",
                               "--to-destination", f"{self.ip(node)}:{port}")
        # Established links bypass the new rules: cut them so they reconnect via relays.
        for node in self.nodes:
            self.reset(node, raft_port)

    def heal(self) -> None:
        for node in sorted(self.faulty):
            run([*self.exec_prefix(node), "iptables", "-w", "5", "-F", "INPUT"])
            run([*self.exec_prefix(node), "iptables", "-w", "5", "-t", "nat", "-F", "OUTPUT"])
        self.faulty.clear()
        # Killing the relays drops the connections through them; members reconnect
        # directly.
        for proc in self.relays:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self.relays.clear()

    def rules(self, node: str) -> str:
        return run([*self.exec_prefix(node), "iptables", "-S", "INPUT"])

    def destroy(self) -> list[str]:
        """Delete every namespace we made (their veths go with them); returns errors."""
        errors = []
        for proc in self.relays:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.relays.clear()
        for ns in reversed(self.created):
            res = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)
            if res.returncode != 0:
                errors.append(f"ip netns del {ns}: {res.stderr.strip()}")
        self.created.clear()
        self.faulty.clear()
        return errors
