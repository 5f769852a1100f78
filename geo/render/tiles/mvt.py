"""Mapbox Vector Tile encoding: protobuf by hand, since the schema is six small messages.

``polygon_commands`` turns one polygon in integer tile coordinates into MVT geometry
commands; ``LayerAttributes`` encodes a level's attribute table once; ``encode_layer``
assembles one layer of one tile from both. Tests read tiles back with mapbox-vector-tile
(a dev dependency; ``tests/conftest.py``'s ``decode_tile``).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import shapely

EXTENT = 4096
"""Tile grid of every MVT layer."""


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint((number << 3) | 2) + _varint(len(payload)) + payload


_SHIFTS = np.arange(0, 70, 7, dtype=np.uint64)
_LIMITS = np.uint64(1) << _SHIFTS[1:]


def _packed(values: list[int] | np.ndarray) -> bytes:
    """Varint-encode many non-negative integers at once."""
    v = np.asarray(values, dtype=np.uint64)
    if v.size == 0:
        return b""
    groups = (v[:, None] >> _SHIFTS[None, :]) & np.uint64(0x7F)
    nbytes = 1 + (v[:, None] >= _LIMITS[None, :]).sum(axis=1)
    col = np.arange(len(_SHIFTS))[None, :]
    groups |= np.where(col < nbytes[:, None] - 1, np.uint64(0x80), np.uint64(0))
    return groups.astype(np.uint8)[col < nbytes[:, None]].tobytes()


# --- geometry ------------------------------------------------------------------------------------


def _ring_commands(ring: np.ndarray, cursor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MoveTo, LineTo… and ClosePath for one ring of integer tile coordinates (last point
    = first point), zigzag-delta encoded from the running cursor; returns the new cursor."""
    pts = ring[:-1]
    deltas = np.diff(np.vstack([cursor[None, :], pts]), axis=0)
    zz = ((deltas << 1) ^ (deltas >> 63)).ravel()
    n = len(pts)
    out = np.empty(len(zz) + 3, dtype=np.int64)
    out[0] = (1 << 3) | 1
    out[1:3] = zz[:2]
    out[3] = ((n - 1) << 3) | 2
    out[4:-1] = zz[2:]
    out[-1] = (1 << 3) | 7
    return out, pts[-1]


def _clean_ring(coords: np.ndarray, exterior: bool) -> np.ndarray | None:
    """Drop repeated points after rounding; drop rings that collapsed or flipped."""
    keep = np.ones(len(coords), dtype=bool)
    keep[1:] = np.any(coords[1:] != coords[:-1], axis=1)
    ring = coords[keep]
    if len(ring) < 4:
        return None
    x, y = ring[:, 0].astype(float), ring[:, 1].astype(float)
    area = float(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])) / 2
    # MVT, y pointing down: exterior rings have positive area, holes negative
    if (area > 0) != exterior or area == 0:
        return None
    return ring


def polygon_commands(geom: shapely.Geometry) -> np.ndarray:
    """MVT commands of a (multi)polygon in integer tile coordinates; empty if it collapsed."""
    cursor = np.zeros(2, dtype=np.int64)
    parts: list[np.ndarray] = []
    polys = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
    for poly in polys:
        shell = _clean_ring(np.asarray(poly.exterior.coords, dtype=np.int64), True)
        if shell is None:
            continue
        cmd, cursor = _ring_commands(shell, cursor)
        parts.append(cmd)
        for hole in poly.interiors:
            ring = _clean_ring(np.asarray(hole.coords, dtype=np.int64), False)
            if ring is not None:
                cmd, cursor = _ring_commands(ring, cursor)
                parts.append(cmd)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


# --- attributes and layers -----------------------------------------------------------------------


def _encode_value(value: Any) -> bytes:
    if isinstance(value, bool):
        return _varint((7 << 3) | 0) + _varint(int(value))
    if isinstance(value, int):
        if value >= 0:
            return _varint((5 << 3) | 0) + _varint(value)
        return _varint((6 << 3) | 0) + _varint((value << 1) ^ (value >> 63))
    if isinstance(value, float):
        return _varint((3 << 3) | 1) + struct.pack("<d", value)
    return _field(1, str(value).encode("utf-8"))


class LayerAttributes:
    """One level's attribute table, encoded once: the key and value messages of the whole
    level, and per feature its tags as indices into them. A tile keeps only the keys and
    values its features use (remapped), so every tile stays a self-contained MVT layer."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        keys: dict[str, int] = {}
        values: dict[tuple[type, Any], int] = {}
        self.tags: list[tuple[np.ndarray, np.ndarray]] = []
        for props in rows:
            k = [keys.setdefault(key, len(keys)) for key in props]
            v = [values.setdefault((type(val), val), len(values)) for val in props.values()]
            self.tags.append((np.asarray(k, dtype=np.int64), np.asarray(v, dtype=np.int64)))
        self.key_fields = [_field(3, key.encode("utf-8")) for key in keys]
        self.value_fields = [_field(4, _encode_value(val)) for (_, val) in values]


def encode_layer(
    name: str, attrs: LayerAttributes, features: list[tuple[int, np.ndarray]]
) -> bytes:
    """One MVT layer from ``(feature index, geometry commands)`` pairs."""
    ks = np.unique(np.concatenate([attrs.tags[i][0] for i, _ in features]))
    vs = np.unique(np.concatenate([attrs.tags[i][1] for i, _ in features]))
    parts = [_varint((15 << 3) | 0) + _varint(2), _field(1, name.encode("utf-8"))]
    for i, commands in features:
        gk, gv = attrs.tags[i]
        tags = np.empty(2 * len(gk), dtype=np.int64)
        tags[0::2] = np.searchsorted(ks, gk)
        tags[1::2] = np.searchsorted(vs, gv)
        body = (
            _varint((1 << 3) | 0) + _varint(i + 1)
            + _field(2, _packed(tags))
            + _varint((3 << 3) | 0) + _varint(3)
            + _field(4, _packed(commands))
        )
        parts.append(_field(2, body))
    parts += [attrs.key_fields[k] for k in ks]
    parts += [attrs.value_fields[v] for v in vs]
    parts.append(_varint((5 << 3) | 0) + _varint(EXTENT))
    return _field(3, b"".join(parts))
