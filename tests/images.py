"""Image bytes for tests: valid PNGs and the hostile inputs every entry point must refuse."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from slidercaptcha.inference.images import encode_png


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png_header(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose IHDR claims ``width × height`` RGB (the pixel data is a stub)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def bad_inputs() -> dict[str, bytes]:
    image = (np.random.default_rng(0).random((120, 240, 3)) * 255).astype(np.uint8)
    return {"not an image": b"hello, this is text", "empty": b"", "20000x20000": huge_png_header(),
            "truncated": encode_png(image)[:400]}
