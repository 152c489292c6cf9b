"""The Raft layer: a sans-I/O Raft node speaking Open vSwitch 3.1's Raft.

    messages.py    the Raft RPCs (OVS-RAFT.md section 2): strict parse, exact keys out
    log.py         the log with its snapshot, of reference.storage.cluster_records.Entry
    durable.py     the node's side of the clustered file: storage's records and replay,
                   adapted to the node's state
    node.py        RaftNode: step / tick / persisted / commands -> Ready
    commands.py    proposals and forwarded commands (a mixin of RaftNode)
    membership.py  join, kick, leave (a mixin of RaftNode)
    progress.py    roles; what a leader tracks per follower; commands in progress
    ready.py       the Ready batch and the command statuses

The node replicates opaque data (OVS's [schema|null, txn|null]) with eids; it knows
nothing of databases, sockets or files.  simulation/raft_cluster.py drives whole
clusters of it from one seed.
"""
