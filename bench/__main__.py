"""Run the benchmarks: ``python -m bench`` for all, ``python -m bench server checker`` for some.

Options after the names go to each named benchmark: ``python -m bench cluster --quick``.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)])
                  if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    split = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    names, options = argv[:split] or available(), argv[split:]
    unknown = set(names) - set(available())
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; "
              f"available: {', '.join(available())}", file=sys.stderr)
        return 2
    status = 0
    for name in names:
        print(f"=== bench.{name}", flush=True)
        status |= int(importlib.import_module(f"bench.{name}").main(options) or 0)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
