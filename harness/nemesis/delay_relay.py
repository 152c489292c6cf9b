"""A TCP relay that holds every chunk for a fixed time before passing it on.

Why: the test kernel has no ``sch_netem``, so ``tc`` cannot delay the links between
cluster members.  Instead each member's namespace redirects (iptables DNAT) its
connections to a peer into one of these relays, run inside the same namespace, which
forwards to the peer after the delay.  Order is kept; only latency is added.

    python -m harness.nemesis.delay_relay LISTEN_IP LISTEN_PORT PEER_IP PEER_PORT DELAY_MS \
        SOURCE_IP

The relay connects to the peer from SOURCE_IP, an address the redirect rule exempts,
so its own connections are not redirected back into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    sender = asyncio.ensure_future(send())
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(1 << 16):
            queue.put_nowait((time.monotonic() + delay, data))
    queue.put_nowait((0.0, b""))
    with contextlib.suppress(OSError, asyncio.CancelledError):
        await sender
    writer.close()


async def serve(listen_ip: str, listen_port: int, peer_ip: str, peer_port: int,
                delay_ms: float, source_ip: str | None = None) -> None:
    delay = delay_ms / 1000.0

    async def accept(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            u_reader, u_writer = await asyncio.wait_for(
                asyncio.open_connection(peer_ip, peer_port,
                                        local_addr=(source_ip, 0) if source_ip else None),
                5.0)
        except (OSError, asyncio.TimeoutError):
            c_writer.close()
            return
        await asyncio.gather(_pump(c_reader, u_writer, delay), _pump(u_reader, c_writer, delay))

    server = await asyncio.start_server(accept, listen_ip, listen_port, reuse_address=True)
    print("ready", flush=True)  # the parent waits for this line before redirecting
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    listen_ip, listen_port, peer_ip, peer_port, delay_ms, *source = argv
    asyncio.run(serve(listen_ip, int(listen_port), peer_ip, int(peer_port), float(delay_ms),
                      source[0] if source else None))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
