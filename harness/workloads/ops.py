"""What a planned operation is and how it ended: the values the pure workload generators
make and the driver (the I/O shell that runs them) records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OpSpec:
    """One planned operation: what the history records at invoke time."""

    f: str
    key: str
    value: Any = None


@dataclass(frozen=True)
class Outcome:
    type: str  # ok | fail | info
    value: Any = None
    error: str | None = None
