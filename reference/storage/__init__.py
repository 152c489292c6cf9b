"""The storage layer: the OVSDB file (framing, durable appends, compaction), the
transaction records inside it, and the ``crucible db`` file tools."""
