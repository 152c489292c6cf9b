"""Runs one fuzz target under atheris (libFuzzer), one target per process:

    python -m tests.fuzz.run TARGET [--out=DIR] [LIBFUZZER OPTIONS...]   e.g. -runs=100000

The seed corpus (tests/fuzz/corpus.py) is written to DIR/seeds and the inputs
libFuzzer keeps go to DIR/corpus, so later runs start from them (DIR is
out/fuzz/TARGET unless --out says otherwise; the CI smoke run starts from the seeds
alone); a crash is written to DIR as crash-<sha1> (replay it: the same command
with the file's path as the only option).  The reference's modules, the harness's
framer and the fuzz targets themselves are instrumented for coverage.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import atheris

REPO = Path(__file__).resolve().parent.parent.parent


def main(argv: list[str]) -> None:
    from tests.fuzz.targets import NAMES

    if len(argv) < 2 or argv[1] not in NAMES:
        sys.exit(f"usage: python -m tests.fuzz.run {{{','.join(NAMES)}}} [libFuzzer options]")
    name, options = argv[1], [o for o in argv[2:] if not o.startswith("--out=")]
    outs = [o.removeprefix("--out=") for o in argv[2:] if o.startswith("--out=")]
    with atheris.instrument_imports(include=["reference", "harness.framing",
                                             "tests.fuzz.targets"]):
        target = importlib.import_module(f"tests.fuzz.targets.{name}")
    from tests.fuzz.corpus import seeds, write_seeds
    from tests.fuzz.mutate import JsonMutator

    out = Path(outs[-1]) if outs else REPO / "out" / "fuzz" / name
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    replay = [o for o in options if not o.startswith("-")]
    folders = []
    if not replay:
        write_seeds(name, out / "seeds")
        folders = [str(corpus), str(out / "seeds")]
    args = [argv[0], f"-artifact_prefix={out}/", "-max_len=65536", "-timeout=30",
            "-rss_limit_mb=4096", "-print_final_stats=1", *options, *folders]
    mutator = JsonMutator(seeds(name)) if target.STRUCTURED else None
    atheris.Setup(args, target.one_input, custom_mutator=mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
