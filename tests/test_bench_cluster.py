"""bench/cluster.py runs end to end in --quick mode against both clusters and prints a
ratio line for every measure of issue #12 (timings are printed, never asserted)."""

from __future__ import annotations

import re
import shutil

import pytest

from bench import cluster

pytestmark = pytest.mark.skipif(shutil.which("ovsdb-server") is None,
                                reason="needs ovsdb-server")

# measure, then the two figures, ours/OVS and the target
RATIO_LINE = re.compile(r"^(?P<label>\S.*?)\s+[\d.]+\s+[\d.]+\s+(?P<ratio>\d+\.\d\d)\s+"
                        r"(?:[<>]= [\d.]+x (?:met|MISSED)|\(info\))$")


def test_quick_run_prints_every_ratio(capsys):
    assert cluster.main(["--quick"]) == 0
    out = capsys.readouterr().out
    labels = [m["label"] for m in map(RATIO_LINE.match, out.splitlines()) if m]
    for measure in ("8 outstanding", "1 outstanding", "SIGKILL", "SIGTERM",
                    "ovs-appctl exit", "VmRSS"):
        assert sum(measure in label for label in labels) == 1, (measure, out)
