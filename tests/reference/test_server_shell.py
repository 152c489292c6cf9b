"""The reference server's asyncio shell: remotes, the inactivity probe, unixctl, pidfile.

Protocol behaviour is compared with the real ovsdb-server in the differential suites;
these tests cover what only the shell does, and, where ovsdb-server has the same
feature (the probe, ovs-appctl), they run against both kinds.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import orjson
import pytest

from harness.framing import Framer
from harness.targets.server import OVN_NB, REPO, create_db, free_port, start_server, wait_for_port

KINDS = ["ovsdb-server", "reference"]


def recv_json(sock: socket.socket, timeout: float) -> list:
    """The messages in the first bytes that complete any (empty: none within timeout)."""
    sock.settimeout(timeout)
    framer = Framer()
    try:
        while chunk := sock.recv(65536):
            if msgs := framer.feed(chunk):
                return msgs
    except socket.timeout:
        pass
    return []


def closed_within(sock: socket.socket, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


@pytest.mark.parametrize("kind", KINDS)
def test_inactivity_probe_sends_echo_then_disconnects(tmp_path, kind):
    # ovsdb-server's probe interval on a ptcp remote is fixed at 5 s; ours is an option.
    extra = ["--inactivity-probe=300"] if kind == "reference" else []
    wait = 1.5 if kind == "reference" else 7.5
    server = start_server(kind, tmp_path, [OVN_NB], extra)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            msgs = recv_json(s, wait)
            assert msgs == [{"id": "echo", "method": "echo", "params": []}]
            assert closed_within(s, 2 * wait)
    finally:
        server.stop()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_probe_answered_keeps_session(tmp_path, loop):
    # Both event loops `crucible serve` can run on: timers, reads and batched writes.
    server = start_server("reference", tmp_path, [OVN_NB],
                          ["--inactivity-probe=200", f"--event-loop={loop}"])
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            for _ in range(4):
                (probe,) = recv_json(s, 2)
                assert probe["method"] == "echo"
                s.sendall(orjson.dumps({"id": "echo", "result": [], "error": None}))
            s.sendall(b'{"method":"list_dbs","params":[],"id":7}')
            (reply,) = recv_json(s, 2)
            assert reply == {"id": 7, "result": ["OVN_Northbound", "_Server"], "error": None}
            # A pipelined burst comes back whole and in order.
            s.sendall(b"".join(orjson.dumps({"method": "echo", "params": [i], "id": i})
                               for i in range(300)))
            framer, replies = Framer(), []
            s.settimeout(5)
            while len(replies) < 300:
                replies += [m for m in framer.feed(s.recv(65536)) if "method" not in m]
            assert [r["id"] for r in replies] == list(range(300))
        assert f"({loop} event loop)" in server.log()
    finally:
        server.stop()


@pytest.mark.parametrize("kind", KINDS)
def test_unixctl_compact_and_exit(tmp_path, kind):
    server = start_server(kind, tmp_path, [OVN_NB])
    ctl = str(server.workdir / f"{kind}.ctl")
    subprocess.run(["ovs-appctl", "-t", ctl, "ovsdb-server/compact"], check=True,
                   capture_output=True, timeout=10)
    bogus = subprocess.run(["ovs-appctl", "-t", ctl, "no-such-command"],
                           capture_output=True, text=True, timeout=10)
    assert bogus.returncode != 0 and "is not a valid command" in bogus.stderr
    subprocess.run(["ovs-appctl", "-t", ctl, "exit"], check=True, capture_output=True,
                   timeout=10)
    assert server.wait(10) == 0
    assert not (server.workdir / f"{kind}.pid").exists()


def test_punix_and_active_tcp_remotes(tmp_path):
    db = tmp_path / "nb.db"
    create_db("reference", db, OVN_NB)
    sock_path = tmp_path / "db.sock"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    ptcp = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve",
                             f"--remote=punix:{sock_path}", f"--remote=tcp:127.0.0.1:{port}",
                             f"--remote=ptcp:{ptcp}:127.0.0.1", str(db)], cwd=REPO,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port(ptcp, lambda: proc.poll() is None)
        listener.settimeout(10)
        active, _ = listener.accept()  # the server connected out to us
        with active:
            active.sendall(b'{"method":"list_dbs","params":[],"id":1}')
            assert recv_json(active, 5)[0]["result"] == ["OVN_Northbound", "_Server"]
        with socket.socket(socket.AF_UNIX) as u:
            u.connect(str(sock_path))
            u.sendall(b'{"method":"echo","params":["x"],"id":2}')
            assert recv_json(u, 5)[0]["result"] == ["x"]
    finally:
        proc.terminate()
        proc.wait(10)
        listener.close()


def test_bad_remote_is_refused_with_a_message(tmp_path):
    db = tmp_path / "nb.db"
    create_db("reference", db, OVN_NB)
    r = subprocess.run([sys.executable, "-m", "harness.cli", "serve", "--remote=pfoo:1",
                        str(db)], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "unknown or malformed remote" in r.stderr


def test_without_uvloop_serve_falls_back_or_says_what_to_install(tmp_path):
    # A stand-in module that fails to import, as uvloop does where it is not installed.
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "uvloop.py").write_text("raise ImportError('no uvloop here')\n")
    env = {**os.environ, "PYTHONPATH": f"{shim}{os.pathsep}{REPO}"}
    db = tmp_path / "nb.db"
    create_db("reference", db, OVN_NB)
    asked = subprocess.run([sys.executable, "-m", "harness.cli", "serve", "--event-loop=uvloop",
                            "--remote=ptcp:0:127.0.0.1", str(db)], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=30)
    assert asked.returncode == 2 and "pip install uvloop" in asked.stderr
    port, log = free_port(), tmp_path / "serve.log"
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve",
                             f"--remote=ptcp:{port}:127.0.0.1", f"--log-file={log}", str(db)],
                            cwd=REPO, env=env)
    try:
        wait_for_port(port, lambda: proc.poll() is None)
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b'{"method":"list_dbs","params":[],"id":1}')
            assert recv_json(s, 5)[0]["result"] == ["OVN_Northbound", "_Server"]
        assert "(asyncio event loop)" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(10)
