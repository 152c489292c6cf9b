"""``crucible check``: is a recorded history linearizable?

    crucible check --model {register,cas-register,kv,counter,set,ovsdb-row,list-append}
                   [--format jsonl|jepsen-edn|jepsen-log] [--timeout S]
                   [--consistency MODEL] [--html OUT.html] HISTORY

Exit status: 0 linearizable, 1 not linearizable, 2 unknown (the timeout ran out),
3 unusable input (the message names the line and the problem).  ``list-append`` is
not a linearizability model: it runs the transactional checker (``harness.elle``),
valid meaning valid under ``--consistency`` (default strict-serializable).

The command lives with the checker it drives (``harness.linear``'s public API); it
only adds reading the history file (``harness.jepsen_formats.read_history``).
"""

from __future__ import annotations

import argparse
import sys

from harness.elle import MODELS as CONSISTENCY
from harness.elle import cli as elle_cli
from harness.history import HistoryError
from harness.jepsen_formats import FORMATS, read_history
from harness.linear import LINEARIZABLE, MODELS, NOT_LINEARIZABLE, check, write_html

EXIT = {LINEARIZABLE: 0, NOT_LINEARIZABLE: 1}
EXIT_UNKNOWN = 2
EXIT_UNUSABLE = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # Bad arguments are unusable input too: exit 3, not argparse's 2 (= unknown).
        self.print_usage(sys.stderr)
        print(f"crucible check: {message}", file=sys.stderr)
        raise SystemExit(EXIT_UNUSABLE)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="crucible check",
        description="Check a recorded history for linearizability against a model.",
        epilog="exit status: 0 linearizable, 1 not linearizable, 2 unknown (timed out), "
        "3 unusable input.  Op encodings of each model: harness/linear/models.py.",
    )
    p.add_argument("--model", required=True, choices=[*MODELS, elle_cli.MODEL])
    p.add_argument("--format", default="jsonl", choices=FORMATS,
                   help="history format (default jsonl)")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="give up after S seconds with exit 2 (default: no limit)")
    p.add_argument("--consistency", choices=list(CONSISTENCY), default="strict-serializable",
                   help="list-append only: the model the history must satisfy")
    p.add_argument("--html", metavar="OUT.html", help="write a timeline of the history "
                   "(list-append: the anomalies with their cycles)")
    p.add_argument("history", metavar="HISTORY")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        ops = read_history(args.history, args.format)
        if args.model == elle_cli.MODEL:
            return elle_cli.run(ops, args.consistency, args.timeout, args.html)
        result = check(ops, args.model, args.timeout)
    except HistoryError as e:
        if e.source is None:
            e.source = args.history
        print(f"crucible check: unusable input: {e}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(result.summary())
    fail = result.failure
    if fail is not None and fail.blocked is not None:
        print(f"  longest linearizable prefix: {len(fail.linearization)} ops; "
              f"could not place history index {result.operations[fail.blocked].call_index}")
    if args.html:
        try:
            write_html(result, args.html)
        except OSError as e:
            # Exit 1 would read "not linearizable": an unwritable output is unusable input.
            print(f"crucible check: cannot write {args.html}: {e.strerror or e}",
                  file=sys.stderr)
            return EXIT_UNUSABLE
        print(f"  timeline: {args.html}")
    return EXIT.get(result.verdict, EXIT_UNKNOWN)


if __name__ == "__main__":
    sys.exit(main())
