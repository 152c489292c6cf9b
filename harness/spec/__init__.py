"""The harness's TLA+ tooling, for the specs in the repository's ``spec/`` folder.

- ``tlc``: run TLC as a subprocess and parse its output into a verdict;
- ``manifest``: the models ``spec/manifest.json`` lists and the verdict each must give;
- ``trace_validation``: check a logged run of a monitor core against MonitorDelta;
- ``cli``: the ``crucible spec check`` command.
"""

from __future__ import annotations

from pathlib import Path

# The repository's spec/ folder (harness/spec/ is the tooling, spec/ the TLA+ itself).
SPEC_DIR = Path(__file__).resolve().parents[2] / "spec"
