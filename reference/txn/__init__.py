"""The transaction layer: the ten RFC 7047 operations (engine), the working state of one
transaction, the insert-only fast path, and the commit checks, in ovsdb-server's order."""
