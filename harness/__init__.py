"""The black-box tester: drives any OVSDB server over the wire, injects faults,
records histories and checks them.  Nothing here imports ``reference``."""
