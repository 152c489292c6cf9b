"""The server layer, highest of all: the protocol core (JSON-RPC methods, sessions, locks,
blocked transactions; it proposes changes and applies them once committed), hosted
databases, the _Server database, the asyncio shell and the command line."""
