"""The server layer, highest of all: the protocol core (JSON-RPC methods, sessions, locks,
blocked transactions), hosted databases, the asyncio shell and the command line."""
