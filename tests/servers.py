"""Start real and reference OVSDB servers for tests, on loopback, and stop them by PID.

Both kinds are started the same way (a database file per schema, a ``ptcp:`` remote on
a free port, a pidfile and a log file in the test's own directory) so differential tests
can treat them alike.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OVN_NB = "/usr/share/ovn/ovn-nb.ovsschema"
OVN_SB = "/usr/share/ovn/ovn-sb.ovsschema"
VSWITCH = "/usr/share/openvswitch/vswitch.ovsschema"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


@dataclass
class Server:
    kind: str  # "ovsdb-server" or "reference"
    workdir: Path
    dbfiles: list[Path]
    port: int
    proc: subprocess.Popen | None = None
    extra_args: list[str] = field(default_factory=list)

    @property
    def remote(self) -> str:
        return f"tcp:127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        common = [
            f"--remote=ptcp:{self.port}:127.0.0.1",
            f"--pidfile={self.workdir / (self.kind + '.pid')}",
            f"--log-file={self.workdir / (self.kind + '.log')}",
            f"--unixctl={self.workdir / (self.kind + '.ctl')}",
        ]
        if self.kind == "ovsdb-server":
            return ["ovsdb-server", "--no-chdir", *common, *self.extra_args,
                    *map(str, self.dbfiles)]
        return [sys.executable, "-m", "harness.cli", "serve", *common, *self.extra_args,
                *map(str, self.dbfiles)]

    def start(self) -> "Server":
        self.proc = subprocess.Popen(self.command(), cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=open(self.workdir / (self.kind + ".stderr"), "ab"))
        wait_for_port(self.port, self.proc)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self) -> str:
        p = self.workdir / (self.kind + ".log")
        return p.read_text(errors="replace") if p.exists() else ""


def create_db(kind: str, dbfile: Path, schema: str | Path) -> None:
    if kind == "ovsdb-server":
        subprocess.run(["ovsdb-tool", "create", str(dbfile), str(schema)], check=True)
    else:
        subprocess.run([sys.executable, "-m", "harness.cli", "db", "create", str(dbfile),
                        str(schema)], check=True, cwd=REPO)


def start_server(kind: str, workdir: Path, schemas: list[str | Path],
                 extra_args: list[str] | None = None) -> Server:
    """Start ``kind`` on fresh databases for ``schemas`` (kept if already created).

    The reference server keeps monitor_cond_since history in standalone mode too (our
    documented extension); here it is started without it unless ``extra_args`` asks
    for ``--history-txns``, so that differential tests see exactly what standalone
    ovsdb-server 3.1 does (found=false, the zero UUID).
    """
    extra_args = list(extra_args or [])
    if kind == "reference" and not any(a.startswith("--history-txns") for a in extra_args):
        extra_args.append("--history-txns=0")
    workdir = Path(workdir) / kind
    workdir.mkdir(parents=True, exist_ok=True)
    dbfiles = []
    for i, schema in enumerate(schemas):
        db = workdir / f"db{i}.db"
        if not db.exists():
            create_db(kind, db, schema)
        dbfiles.append(db)
    return Server(kind, workdir, dbfiles, free_port(), extra_args=extra_args).start()


def kill_all(servers) -> None:
    for s in servers:
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - teardown must go on
            if s.proc:
                os.kill(s.proc.pid, signal.SIGKILL)
