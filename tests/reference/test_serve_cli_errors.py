"""``crucible serve`` mistakes give an exit code and one clear line, never a traceback
(issue 19), in ovsdb-server 3.1's words where it has words for them; its control socket
answers ``list-commands`` and ``vlog/*``; its sockets do not outlive it.

Each case runs the real command in a subprocess.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.targets.server import OVN_NB, REPO, create_db, free_port

MISSING = "/nonexistent-crucible-dir"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "nb.db"
    create_db("reference", path, OVN_NB)
    return path


def serve(db: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", "serve", *args, str(db)],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)


def last_line(r: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    return r.stderr.strip().splitlines()[-1]


def test_port_in_use(db):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = serve(db, f"--remote=ptcp:{port}:127.0.0.1")
    assert r.returncode == 1
    # ovsdb-server logs "ptcp:PORT:IP: listen failed: Address already in use" (and
    # keeps retrying); we say the same and stop.
    assert last_line(r) == (f"crucible serve: ptcp:{port}:127.0.0.1: listen failed: "
                            "Address already in use")


@pytest.mark.parametrize("remote, code, line", [
    ("ptcp:6640:999.1.1.1", 1, "ptcp:6640:999.1.1.1: listen failed: 999.1.1.1: failed to "
                               "resolve"),
    ("ptcp:99999:127.0.0.1", 2, 'ptcp:99999:127.0.0.1: bad port number "99999"'),
    ("tcp:16641", 2, 'tcp:16641: bad port number "" (expected tcp:IP:PORT)'),
    (f"punix:{MISSING}/db.sock", 1, f"punix:{MISSING}/db.sock: listen failed: No such file "
                                    "or directory"),
])
def test_bad_or_unusable_remote(db, remote, code, line):
    r = serve(db, f"--remote={remote}")
    assert r.returncode == code
    assert last_line(r) == f"crucible serve: {line}"


@pytest.mark.parametrize("option, line", [
    ("--pidfile", f"{MISSING}/x: create failed (No such file or directory)"),
    ("--log-file", f"failed to open {MISSING}/x for logging: No such file or directory"),
    ("--unixctl", f"{MISSING}/x: could not initialize control socket (No such file or "
                  "directory)"),
])
def test_missing_folder_for_a_file_option(db, option, line):
    r = serve(db, f"{option}={MISSING}/x", "--remote=ptcp:0:127.0.0.1")
    assert r.returncode == 1
    assert last_line(r) == f"crucible serve: {line}"


@pytest.mark.parametrize("option, words", [
    ("--pidfile", "create failed (No such file or directory)"),
    ("--log-file", "for logging: No such file or directory"),
    ("--unixctl", "could not initialize control socket (No such file or directory)"),
])
def test_ovsdb_server_uses_the_same_words(tmp_path, option, words):
    """What the test above expects is what ovsdb-server 3.1 prints for that mistake."""
    path = tmp_path / "nb.db"
    create_db("ovsdb-server", path, OVN_NB)
    r = subprocess.run(["ovsdb-server", str(path), f"{option}={MISSING}/x",
                        f"--unixctl={tmp_path}/ctl" if option != "--unixctl" else "-v"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and words in r.stderr, r.stderr


class Running:
    """A ``crucible serve`` in the background, with its control socket."""

    def __init__(self, tmp_path: Path, db: Path, *remotes: str) -> None:
        self.ctl = str(tmp_path / "serve.ctl")
        self.err = tmp_path / "serve.err"
        with open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "harness.cli", "serve", f"--unixctl={self.ctl}",
                 *remotes, str(db)], cwd=REPO, stderr=err)
        for _ in range(200):  # bounded: 20 s
            if Path(self.ctl).exists() or self.proc.poll() is not None:
                break
            time.sleep(0.1)
        assert Path(self.ctl).exists(), self.err.read_text()

    def appctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["ovs-appctl", "-t", self.ctl, *args], capture_output=True,
                              text=True, timeout=10)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(10)


def test_no_remote_says_so(tmp_path, db):
    server = Running(tmp_path, db)
    try:
        assert "no --remote given: no client can connect" in server.err.read_text()
        assert server.appctl("exit").returncode == 0
        assert server.proc.wait(10) == 0
    finally:
        server.stop()


@pytest.mark.parametrize("how", ["exit", "SIGTERM"])
def test_punix_socket_removed_on_exit(tmp_path, db, how):
    sock = tmp_path / "db.sock"
    server = Running(tmp_path, db, f"--remote=punix:{sock}")
    try:
        assert sock.exists()
        if how == "exit":
            assert server.appctl("exit").returncode == 0
        else:
            server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
        assert not sock.exists() and not Path(server.ctl).exists()
    finally:
        server.stop()


def test_appctl_list_commands_vlog_and_error_lines(tmp_path, db):
    server = Running(tmp_path, db, f"--remote=ptcp:{free_port()}:127.0.0.1")
    try:
        listed = server.appctl("list-commands")
        assert listed.returncode == 0
        names = listed.stdout.split()
        assert {"exit", "list-commands", "vlog/list", "vlog/set", "version"} <= set(names)
        vlog = server.appctl("vlog/list")
        assert vlog.returncode == 0
        row = next(line.split() for line in vlog.stdout.splitlines()
                   if line.startswith("ovsdb_server "))
        assert row == ["ovsdb_server", "INFO", "OFF", "OFF"]  # logging to the console
        assert server.appctl("vlog/set", "ovsdb_server:console:dbg").returncode == 0
        assert server.appctl("vlog/set", "ANY:file:err").returncode == 0  # not in use
        row = next(line.split() for line in server.appctl("vlog/list").stdout.splitlines()
                   if line.startswith("ovsdb_server "))
        assert row == ["ovsdb_server", "DBG", "OFF", "OFF"]
        # An error is printed by ovs-appctl as the server wrote it: on its own line.
        bad = server.appctl("vlog/set", "bogus")
        assert bad.returncode != 0
        assert bad.stderr.splitlines()[0] == 'no destination, level, or module "bogus"'
        nope = server.appctl("nope")
        assert nope.stderr.splitlines()[0] == ('"nope" is not a valid command (use '
                                               '"list-commands" to see a list of valid '
                                               'commands)')
    finally:
        assert server.stop() in (0, -signal.SIGTERM)


def test_missing_database_file_is_one_line(tmp_path):
    r = serve(tmp_path / "nope.db", "--remote=ptcp:0:127.0.0.1")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"crucible serve: {tmp_path / 'nope.db'}: open failed (No such file or directory)"]
