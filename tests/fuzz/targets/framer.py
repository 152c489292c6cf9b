"""Both framers (the reference's StreamDecoder and the harness's Framer) on arbitrary
bytes cut into arbitrary chunks: they raise nothing but FramingError, and what they
return (messages, then whether the stream broke) does not depend on the chunking."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from typing import Any

from harness import framing
from reference.wire import jsonrpc

STRUCTURED = False


def chunkings(data: bytes) -> list[list[bytes]]:
    """One byte at a time (short inputs), and random cuts drawn from the input itself,
    so the same input always gets the same cuts."""
    rng = random.Random(zlib.crc32(data))
    out = []
    if len(data) <= 512:
        out.append([data[i:i + 1] for i in range(len(data))])
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 8)))) \
        if len(data) > 1 else []
    out.append([data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)])
    return out


def decode(feed: Callable[[bytes], list], error: type[Exception], chunks: list[bytes]
           ) -> tuple[list[Any], bool]:
    """(messages, whether the stream broke) after feeding ``chunks``."""
    out: list[Any] = []
    for chunk in chunks:
        try:
            out += feed(chunk)
        except error as e:
            return out + e.messages, True  # type: ignore[attr-defined]
    return out, False


def one_input(data: bytes) -> None:
    for name, make, error in (("StreamDecoder", jsonrpc.StreamDecoder, jsonrpc.FramingError),
                              ("Framer", framing.Framer, framing.FramingError)):
        whole = decode(make().feed, error, [data])
        for chunks in chunkings(data):
            cut = decode(make().feed, error, chunks)
            if cut != whole:
                raise AssertionError(
                    f"{name}: fed in {len(chunks)} chunks {cut!r}, at once {whole!r}")
