"""JSON-RPC 1.0 framing and messages as OVSDB speaks them (RFC 7047 section 4), sans I/O."""
