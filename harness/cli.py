"""The ``crucible`` command: a thin dispatcher to the module that owns each subcommand.

Subcommands are imported lazily so that ``crucible check`` does not pay for the
server's imports and vice versa.  ``serve`` and ``db`` belong to the reference
server, ``simulate`` to the simulator: they are reached only through this table, the
harness itself never imports ``reference`` or ``simulation``.
"""

from __future__ import annotations

import importlib
import sys

# name -> ("module:function", one-line help).  Each function takes argv (list[str]) and
# returns a process exit code.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("harness.demo:main", "run the main job: a short fault campaign with a report"),
    "campaign": ("harness.campaign:main", "run a fault campaign against a target"),
    "check": ("harness.linear.cli:main", "check a recorded history for linearizability"),
    "spec": ("harness.spec.cli:main", "model check the TLA+ specs with TLC (spec check)"),
    "serve": ("reference.server.cli:serve_main", "run the reference OVSDB server"),
    "db": ("reference.server.cli:db_main", "database file tools (db create)"),
    "simulate": ("simulation.cli:main", "the deterministic Raft cluster simulator, many seeds"),
}


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ovsdb-crucible")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def usage() -> str:
    lines = ["usage: crucible [--version] COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    if argv[0] in ("-V", "--version", "version"):
        print(f"crucible (ovsdb-crucible) {package_version()}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"crucible: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    target, _ = SUBCOMMANDS[name]
    module_name, func_name = target.split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
