"""The storage layer: the OVSDB file (framing, durable appends, compaction), the
transaction records inside it, standalone storage (a proposed change committed at once),
and the ``crucible db`` file tools."""
