"""A tiny raster canvas that writes PNG files with zlib only (no plotting library).

``Canvas(w, h, background)`` with ``pixel``, ``rect``, ``hline``, ``vline``, ``dot``,
``text`` (a 3x5 pixel font: digits, a few letters and punctuation, enough for axis
labels) and ``png() -> bytes``.  Colours are (r, g, b) tuples.

PNG layout (RFC 2083): the 8-byte signature, then chunks (length, type, data, CRC-32 of
type+data): IHDR (size, 8-bit truecolour), IDAT (zlib stream of the scanlines, each
prefixed with filter type 0), IEND.
"""

from __future__ import annotations

import struct
import zlib

Color = tuple[int, int, int]

SIGNATURE = b"\x89PNG\r\n\x1a\n"

# 3x5 glyphs, one string of 15 bits per character, row by row.
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    "s": "000011110001110", "m": "000110111101101", "t": "010111010010011",
    "x": "000101010010101", "y": "000101011001110", " ": "000000000000000",
    ":": "000010000010000", "u": "000101101101111", "%": "101001010100101", "/": "001001010100100",
}


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + \
        struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode(width: int, height: int, rgb: bytes | bytearray) -> bytes:
    """PNG bytes for a ``width*height*3`` buffer of RGB pixels, top row first."""
    if len(rgb) != width * height * 3:
        raise ValueError(f"expected {width * height * 3} bytes, got {len(rgb)}")
    stride = width * 3
    raw = b"".join(b"\x00" + bytes(rgb[y * stride:(y + 1) * stride]) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + \
        chunk(b"IEND", b"")


def decode(data: bytes) -> tuple[int, int, bytes]:
    """Inverse of ``encode`` for the files it writes (used by tests): (w, h, rgb)."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    pos, width, height, idat = len(SIGNATURE), 0, 0, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if crc != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise ValueError(f"bad CRC in {kind!r}")
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 3
    rows = [raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)] for y in range(height)]
    return width, height, b"".join(rows)


class Canvas:
    def __init__(self, width: int, height: int, background: Color = (255, 255, 255)) -> None:
        self.width = width
        self.height = height
        self.buf = bytearray(bytes(background) * (width * height))

    def pixel(self, x: int, y: int, color: Color) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.buf[i:i + 3] = bytes(color)

    def get(self, x: int, y: int) -> Color:
        i = (y * self.width + x) * 3
        return self.buf[i], self.buf[i + 1], self.buf[i + 2]

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill [x0, x1) x [y0, y1), clipped to the canvas."""
        x0, x1 = max(0, min(x0, x1)), min(self.width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height, max(y0, y1))
        if x0 >= x1:
            return
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            i = (y * self.width + x0) * 3
            self.buf[i:i + len(row)] = row

    def hline(self, x0: int, x1: int, y: int, color: Color) -> None:
        self.rect(x0, y, x1 + 1, y + 1, color)

    def vline(self, x: int, y0: int, y1: int, color: Color) -> None:
        self.rect(x, min(y0, y1), x + 1, max(y0, y1) + 1, color)

    def dot(self, x: int, y: int, color: Color, r: int = 1) -> None:
        self.rect(x - r, y - r, x + r + 1, y + r + 1, color)

    def text(self, x: int, y: int, s: str, color: Color = (0, 0, 0), scale: int = 1) -> int:
        """Draw ``s`` with its top-left corner at (x, y); returns the width drawn."""
        cx = x
        for ch in s:
            glyph = _FONT.get(ch, _FONT[" "])
            for i, bit in enumerate(glyph):
                if bit == "1":
                    gx, gy = i % 3, i // 3
                    self.rect(cx + gx * scale, y + gy * scale, cx + (gx + 1) * scale,
                              y + (gy + 1) * scale, color)
            cx += 4 * scale
        return cx - x

    def png(self) -> bytes:
        return encode(self.width, self.height, self.buf)
