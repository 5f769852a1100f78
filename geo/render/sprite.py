"""The MapLibre sprite: one image, the hatch pattern of withheld areas (MapLibre and QGIS)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

from geo.errors import ParameterError
from geo.render.classes import WITHHELD_COLOR, WITHHELD_LINE

HATCH_IMAGE = "quartier-hatch"
"""Name of the hatch in the sprite (a style's ``fill-pattern``)."""


def _png(rgba: np.ndarray) -> bytes:
    """Encode an RGBA uint8 image (h, w, 4) as PNG."""
    h, w, _ = rgba.shape
    raw = b"".join(b"\x00" + rgba[row].tobytes() for row in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _hex_rgba(color: str) -> list[int]:
    return [int(color[i:i + 2], 16) for i in (1, 3, 5)] + [255]


def sprite(pixel_ratio: int = 1) -> tuple[dict[str, Any], bytes]:
    """The sprite index and PNG: a seamless diagonal hatch (grey on light grey)."""
    if pixel_ratio not in (1, 2):
        raise ParameterError(f"pixel ratio must be 1 or 2, not {pixel_ratio}")
    size = 16 * pixel_ratio
    period = 8 * pixel_ratio
    i, j = np.mgrid[0:size, 0:size]
    line = ((i + j) % period) < 2 * pixel_ratio
    img = np.empty((size, size, 4), dtype=np.uint8)
    img[:] = _hex_rgba(WITHHELD_COLOR)
    img[line] = _hex_rgba(WITHHELD_LINE)
    index = {HATCH_IMAGE: {"x": 0, "y": 0, "width": size, "height": size,
                           "pixelRatio": pixel_ratio}}
    return index, _png(img)


__all__ = ["HATCH_IMAGE", "sprite"]
