"""Start one OVSDB server on loopback: the real ovsdb-server or ours, the same way.

This is the one place that knows how each kind is created and started: a database file
per schema (``ovsdb-tool create`` or ``crucible db create``), a ``ptcp:`` remote on a
free 127.0.0.1 port, and a pidfile, log file and unixctl socket in the server's own
directory.  The standalone targets, the tests and the benchmarks all start servers
through it; our server is started through the ``crucible`` command line only (the
harness never imports ``reference``).

``start_server(kind, workdir, schemas, extra_args)`` returns a running ``Server``;
``server.stop()`` (SIGTERM, then SIGKILL) or ``stop_all(servers)`` ends it, by PID.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.targets.base import Proc

REPO = Path(__file__).resolve().parents[2]
KINDS = ("ovsdb-server", "reference")

# Schemas that come with Open vSwitch and OVN, for tests and benchmarks.
OVN_NB = "/usr/share/ovn/ovn-nb.ovsschema"
OVN_SB = "/usr/share/ovn/ovn-sb.ovsschema"
VSWITCH = "/usr/share/openvswitch/vswitch.ovsschema"

_CLI = [sys.executable, "-m", "harness.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for_port(port: int, alive: Callable[[], bool], timeout: float = 15.0,
                  what: str = "server") -> None:
    """Until something listens on 127.0.0.1:``port``; fails early if ``alive()`` says
    the process is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited before listening on 127.0.0.1:{port}")
        if port_open(port):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown server kind {kind!r}: choose one of {', '.join(KINDS)}")


def tool_argv(kind: str) -> list[str]:
    """The database file tool of ``kind``: ``ovsdb-tool`` or ``crucible db`` (the same
    commands: create, create-cluster, join-cluster, db-cid, ...)."""
    _check_kind(kind)
    return ["ovsdb-tool"] if kind == "ovsdb-server" else [*_CLI, "db"]


def program_argv(kind: str) -> list[str]:
    """The server program of ``kind``, before its options."""
    _check_kind(kind)
    return ["ovsdb-server", "--no-chdir"] if kind == "ovsdb-server" else [*_CLI, "serve"]


def create_db(kind: str, dbfile: Path, schema: str | Path) -> None:
    """A standalone database file for ``schema``, written by ``kind``'s own tool."""
    res = subprocess.run([*tool_argv(kind), "create", str(dbfile), str(schema)], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"creating {dbfile} failed: {res.stderr.strip()}")


def server_argv(kind: str, port: int, rundir: Path, name: str, dbfiles: Iterable[Path],
                extra_args: Iterable[str] = ()) -> list[str]:
    """The command line of ``kind`` serving ``dbfiles`` on ``ptcp:port:127.0.0.1``, its
    pidfile, log and unixctl socket named ``name`` in ``rundir``."""
    common = [f"--remote=ptcp:{port}:127.0.0.1",
              f"--pidfile={rundir / (name + '.pid')}",
              f"--log-file={rundir / (name + '.log')}",
              f"--unixctl={rundir / (name + '.ctl')}"]
    return [*program_argv(kind), *common, *extra_args, *map(str, dbfiles)]


@dataclass
class Server:
    """One server process on 127.0.0.1:``port``; files are named after its kind."""

    kind: str  # "ovsdb-server" or "reference"
    workdir: Path
    dbfiles: list[Path]
    port: int
    extra_args: list[str] = field(default_factory=list)
    proc: Proc | None = None

    @property
    def remote(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def command(self) -> list[str]:
        return server_argv(self.kind, self.port, self.workdir, self.kind, self.dbfiles,
                           self.extra_args)

    def start(self, timeout: float = 15.0) -> Server:
        self.proc = Proc(self.command(), self.workdir / f"{self.kind}.stderr", cwd=REPO)
        self.proc.start()
        wait_for_port(self.port, self.alive, timeout, self.kind)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def wait(self, timeout: float) -> int:
        """The exit status, once the process has ended on its own."""
        assert self.proc is not None and self.proc.popen is not None
        return self.proc.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, as a crash would; ``start()`` may follow."""
        if self.proc is not None:
            self.proc.kill()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    # Measurements of the running process, for resource tests and benchmarks (Linux).

    def rss_bytes(self) -> int:
        """Resident memory now (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for {self.kind} (pid {self.pid})")

    def cpu_seconds(self) -> float:
        """CPU time so far of all the process's threads (schedstat: ns resolution)."""
        return sum(int((task / "schedstat").read_text().split()[0])
                   for task in Path(f"/proc/{self.pid}/task").iterdir()) / 1e9

    def log(self) -> str:
        p = self.workdir / f"{self.kind}.log"
        return p.read_text(errors="replace") if p.exists() else ""


def start_server(kind: str, workdir: str | Path, schemas: Iterable[str | Path],
                 extra_args: Iterable[str] = ()) -> Server:
    """Start ``kind`` in ``workdir/kind`` on databases for ``schemas`` (created unless
    they exist, so a restart keeps the data).

    Our server keeps monitor_cond_since history in standalone mode too (a documented
    extension); it is started without it unless ``extra_args`` asks for
    ``--history-txns``, so a differential comparison sees exactly what standalone
    ovsdb-server 3.1 does (found=false, the zero UUID).
    """
    _check_kind(kind)
    extra = list(extra_args)
    if kind == "reference" and not any(a.startswith("--history-txns") for a in extra):
        extra.append("--history-txns=0")
    rundir = Path(workdir).resolve() / kind
    rundir.mkdir(parents=True, exist_ok=True)
    dbfiles = []
    for i, schema in enumerate(schemas):
        db = rundir / f"db{i}.db"
        if not db.exists():
            create_db(kind, db, schema)
        dbfiles.append(db)
    return Server(kind, rundir, dbfiles, free_port(), extra).start()


def stop_all(servers: Iterable[Server]) -> None:
    """Stop each server; one that fails to stop does not keep the others running."""
    for s in servers:
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - teardown must go on
            s.kill()
