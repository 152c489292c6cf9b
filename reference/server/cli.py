"""``crucible serve`` and ``crucible db``: the reference server's command line.

``serve`` takes ovsdb-server's options where they exist (``--remote``, ``--pidfile``,
``--log-file``, ``--unixctl``, ``--no-chdir``, DB file arguments) and a few of its own,
all with ``--name=value`` or ``--name value``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from reference.wire import jsonrpc


class OvsLogFormatter(logging.Formatter):
    """Lines like ovsdb-server's: 2026-11-24T00:49:30.082Z|00001|module|INFO|text."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = 0

    def format(self, record: logging.LogRecord) -> str:
        self.seq += 1
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        module = record.name.rsplit(".", 1)[-1]
        level = {"WARNING": "WARN", "CRITICAL": "EMER"}.get(record.levelname,
                                                             record.levelname)
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return f"{stamp}.{int(record.msecs):03d}Z|{self.seq:05d}|{module}|{level}|{text}"


def setup_logging(log_file: str | None, verbose: bool) -> None:
    """Log to ``log_file`` (appended) or stderr; OSError if the file cannot be opened."""
    handler: logging.Handler
    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(OvsLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crucible serve",
                                description="Run the reference OVSDB server.")
    p.add_argument("dbfiles", nargs="+", metavar="DBFILE",
                   help="database files: standalone (crucible db create / ovsdb-tool "
                        "create) or clustered (crucible db create-cluster|join-cluster / "
                        "ovsdb-tool create-cluster|join-cluster)")
    p.add_argument("--remote", action="append", default=[],
                   help="ptcp:PORT[:IP], punix:PATH, tcp:IP:PORT or unix:PATH (repeatable)")
    p.add_argument("--pidfile", help="write the process id to this file")
    p.add_argument("--log-file", help="append log lines here instead of stderr")
    p.add_argument("--unixctl", help="control socket path (ovs-appctl -t PATH ...)")
    p.add_argument("--no-chdir", action="store_true", help="accepted for compatibility")
    p.add_argument("--max-message-size", type=int, default=jsonrpc.DEFAULT_MAX_MESSAGE_BYTES,
                   help="largest JSON-RPC message a client may send, in bytes "
                        "(default %(default)s); larger ones drop the connection")
    p.add_argument("--inactivity-probe", type=int, default=5000, metavar="MS",
                   help="probe idle clients after MS milliseconds (0 disables)")
    p.add_argument("--history-txns", type=int, default=100,
                   help="transactions kept for monitor_cond_since (default %(default)s)")
    p.add_argument("--history-atoms", type=int, default=None,
                   help="atoms kept for monitor_cond_since (default: as many as the "
                        "database holds, like ovsdb-server)")
    p.add_argument("--event-loop", choices=("uvloop", "asyncio"), default=None,
                   help="uvloop (the default when it is installed: the shell's "
                        "socket work costs less) or the standard library's loop")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return p


def event_loop_factory(name: str | None) -> tuple[str, Callable[[], asyncio.AbstractEventLoop]]:
    """(name, factory) of the event loop to serve with: uvloop if asked for or, when
    nothing is asked, if installed; the standard library's otherwise."""
    if name != "asyncio":
        try:
            import uvloop
        except ImportError:
            if name == "uvloop":
                raise
        else:
            return "uvloop", uvloop.new_event_loop
    return "asyncio", asyncio.new_event_loop


def serve_main(argv: list[str]) -> int:
    from reference.server.cluster_commands import cluster_commands
    from reference.server.cluster_shell import ClusterShell
    from reference.server.core import ServerCore
    from reference.server.hosted_database import HistoryLimits
    from reference.server.server_database import open_databases
    from reference.server.shell import ServerShell, StartupError, parse_remote
    from reference.server.vlog_commands import VlogCommands

    args = serve_parser().parse_args(argv)
    try:
        loop_name, new_loop = event_loop_factory(args.event_loop)
    except ImportError:
        print("crucible serve: --event-loop=uvloop: uvloop is not installed "
              "(pip install uvloop)", file=sys.stderr)
        return 2
    # Clients may nest JSON 1000 deep (ovsdb-server's limit); walking and re-encoding
    # such values recurses about that deep.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    try:
        remotes = [parse_remote(r) for r in args.remote]
    except ValueError as e:
        print(f"crucible serve: {e}", file=sys.stderr)
        return 2
    try:
        setup_logging(args.log_file, args.verbose)
    except OSError as e:
        print(f"crucible serve: failed to open {args.log_file} for logging: "
              f"{e.strerror or e}", file=sys.stderr)
        return 1
    log = logging.getLogger("reference.ovsdb_server")
    try:
        hosted, members = open_databases(args.dbfiles, HistoryLimits(args.history_txns,
                                                                     args.history_atoms))
    except Exception as e:  # noqa: BLE001 - any failure to open is fatal and reported
        return fail(str(e))
    core = ServerCore(hosted)
    # What was loaded lives until exit: keep the cycle collector from walking it again
    # and again, and let it run less often (a commit leaves little cyclic garbage).
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)

    def compact_command(params: list[str]) -> str:
        names = params or [h.name for h in hosted if h.on_disk]
        for h in hosted:
            if h.name in names and h.on_disk:
                h.compact()
        return ""

    def list_dbs_command(params: list[str]) -> str:
        return "".join(f"{h.name}\n" for h in hosted if h.on_disk)

    vlog = VlogCommands(to_file=bool(args.log_file))
    commands = {
        "vlog/list": vlog.list,
        "vlog/set": vlog.set,
        "ovsdb-server/compact": compact_command,
        "ovsdb-server/list-dbs": list_dbs_command,
        "ovsdb-server/list-remotes": lambda p: "".join(f"{r}\n" for r in remotes),
        "version": lambda p: "crucible serve (ovsdb-crucible reference server)\n",
    }

    def tick() -> None:
        for h in hosted:
            h.maybe_compact()

    server = ServerShell(core, remotes, max_message_bytes=args.max_message_size,
                    probe_ms=args.inactivity_probe, unixctl_path=args.unixctl,
                    unixctl_commands=commands, on_tick=tick)
    clusters = {m.hosted.name: ClusterShell(m, core, server.dispatch) for m in members}
    commands.update(cluster_commands(clusters))
    server.unixctl_commands.update(commands)
    if args.pidfile:
        try:
            with open(args.pidfile, "w") as f:
                f.write(f"{os.getpid()}\n")
        except OSError as e:
            for h in hosted:
                h.close()
            return fail(f"{args.pidfile}: create failed ({e.strerror or e})")

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.stopping.set)
        try:
            for cluster in clusters.values():
                await cluster.start()
        except OSError as e:
            raise StartupError(f"cannot listen for Raft connections: {e.strerror or e}"
                               ) from None
        try:
            await server.serve_until_stopped()
        finally:
            for cluster in clusters.values():
                await cluster.stop()

    log.info("crucible serve (ovsdb-crucible reference server) starting (%s event loop)",
             loop_name)
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(run())
    except StartupError as e:
        return fail(str(e))
    finally:
        for h in hosted:
            h.close()
        if args.pidfile and os.path.exists(args.pidfile):
            os.unlink(args.pidfile)
    log.info("exiting")
    return 0


def fail(message: str) -> int:
    """Report a fatal startup problem as one line on stderr (and in the log file, when
    there is one: on stderr, that line is the log's)."""
    root = logging.getLogger()
    if any(isinstance(h, logging.FileHandler) for h in root.handlers):
        logging.getLogger("reference.ovsdb_server").error("%s", message)
    print(f"crucible serve: {message}", file=sys.stderr)
    return 1


def db_main(argv: list[str]) -> int:
    from reference.storage import dbtool

    return dbtool.main(argv)
