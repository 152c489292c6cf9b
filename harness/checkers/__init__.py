"""Checkers: everything that reads a finished history (see ``harness.checkers.base``
for the protocol).

- ``Linearizability(model)``: ``harness.linear`` on the client ops;
- ``MonitorChecker()``: the monitor properties (``harness.checkers.monitor``);
- ``ClusterCheck()``: what the target's offline check (``ovsdb-tool check-cluster``)
  said, recorded in the history;
- ``Timeline(workers)``, ``LatencyPlot()``: the pictures, which always pass.
"""

from harness.checkers.base import (
    INVALID,
    UNKNOWN,
    VALID,
    CheckContext,
    Checker,
    CheckerResult,
    Failure,
    Validity,
    run_checkers,
    validity_of,
)
from harness.checkers.cluster import ClusterCheck
from harness.checkers.latency import LatencyPlot
from harness.checkers.linearizability import Linearizability
from harness.checkers.monitor import MonitorChecker
from harness.checkers.timeline import Timeline

__all__ = ["INVALID", "UNKNOWN", "VALID", "CheckContext", "Checker", "CheckerResult",
           "ClusterCheck", "Failure", "LatencyPlot", "Linearizability", "MonitorChecker",
           "Timeline", "Validity", "run_checkers", "validity_of"]
