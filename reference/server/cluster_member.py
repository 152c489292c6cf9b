"""One clustered database as a server opens it: file, Raft node, storage and database.

``ClusterMember(path, limits)`` opens a clustered file (ovsdb-tool's, ovsdb-server's or
ours) and builds the member: the Raft node from the file, the database from the node's
snapshot and committed entries, and a ``HostedDatabase`` whose storage is
``ClusteredStorage``.  The asyncio side that runs it is cluster_shell.py.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

from reference.data.schema import parse_schema
from reference.raft.clustered_storage import ClusteredStorage
from reference.raft.durable import restore
from reference.raft.node import RaftNode
from reference.raft.progress import LEADER
from reference.server.hosted_database import HistoryLimits, HostedDatabase
from reference.storage.cluster_data import apply_data
from reference.storage.cluster_file import ClusterFile

log = logging.getLogger("reference.raft")


def now_ms() -> int:
    return int(time.monotonic() * 1000)


class ClusterMember:
    """One clustered database as opened: its file, node, storage and hosted database."""

    def __init__(self, path: str, limits: HistoryLimits) -> None:
        self.path = path
        self.file, state = ClusterFile.open(path)
        durable = restore(state)
        self.node = RaftNode(durable, now_ms=now_ms(), rng=random.Random(), restarted=True)
        first = self.node.ready()
        if first.persist:
            self.file.write_records(r for op in first.persist for r in op.records)
            self.file.commit()
            self.node.persisted(first.persist[-1].seq)
        schema, db, index, eid = None, None, 0, durable.log.snapshot.eid
        if first.snapshot is not None and first.snapshot.data is not None:
            db = apply_data(None, first.snapshot.data)
            index = first.snapshot.index
            for c in first.committed:
                index = c.index
                if c.data is not None:
                    db, eid = apply_data(db, c.data), c.eid or eid
            schema = db.schema
        self.storage = ClusteredStorage(self.node, schema, applied_index=index,
                                        applied_eid=eid)
        # A joining server has no schema until the leader's snapshot arrives; until then
        # it hosts an empty database of that name, and its transactions wait.
        self.hosted = HostedDatabase(schema or parse_schema(
            {"name": durable.name, "version": "0.0.0", "tables": {}}),
            storage=self.storage, model="clustered", limits=limits)
        if db is not None:
            self.hosted.db = db
        log.info("%s: opened clustered database %s at index %d (local server ID is %s)",
                 path, durable.name, index, durable.sid[:4])

    def status(self) -> dict[str, Any]:
        """The ``_Server.Database`` columns ovsdb-server fills for a clustered database."""
        node = self.node
        return {"connected": self.storage.connected, "leader": node.role == LEADER,
                "index": self.storage.applied_index, "cid": node.cid, "sid": node.sid,
                "schema": self.storage.schema is not None}
