"""A node's roles, what a leader tracks per follower (Peer) and what a node tracks per
command in progress (Command)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Roles, named as in spec/OvsdbRaft.tla.
FOLLOWER, PRECANDIDATE, CANDIDATE, LEADER = "Follower", "PreCandidate", "Candidate", "Leader"


@dataclass
class Peer:
    """What a leader knows about one follower."""

    sid: str
    next_index: int
    match_index: int = 0
    inflight: int = 0          # append_requests with entries not yet answered
    progress: bool = False     # answered since the last heartbeat
    sent_at: int = 0           # when the last append with entries left
    replied: bool = False      # answered since the last election timeout
    snapshot_sent: bool = False


@dataclass
class Command:
    """A proposal in progress.  On a leader ``origin`` is the follower that forwarded
    it (None for our own); on a follower ``forwarded`` is true."""

    result: str
    data: Any
    prereq: str | None
    timestamp: int
    origin: str | None = None
    index: int = 0             # log index (leader) or the commit index to wait for
    forwarded: bool = False
    sent_at: int = 0
    retries: int = 0
