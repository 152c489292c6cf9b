"""A compact reference OVSDB server (RFC 7047 plus the Open vSwitch 3.1 extensions)."""
