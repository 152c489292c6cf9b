"""One fuzz target per sans-I/O layer.  Each module has ``one_input(data: bytes)``,
which raises only on a crash (an exception the layer does not document) or a broken
invariant, and ``STRUCTURED``: whether its inputs are JSON for the structured mutator
(tests/fuzz/mutate.py) or raw bytes for libFuzzer's own."""

NAMES = ("framer", "core", "txn", "condition", "records", "log_file", "cluster_records",
         "raft")
