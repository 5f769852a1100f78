"""Mapbox Vector Tile encoding: protobuf by hand, vectorised over every feature of a batch.

The MVT schema is six small messages, and nearly all of a layer is varints: a feature is
the varints ``id``, ``tags`` and ``geometry`` with their field keys and lengths, and a
layer's features are one long varint stream. So a level's features in a batch of tiles are
laid out as one integer array and packed in one numpy pass; only the per-level key and
value messages are raw bytes, encoded once per level (``LayerAttributes``) and gathered per
tile. Tests read tiles back with mapbox-vector-tile (``tests/conftest.py``'s
``decode_tile``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EXTENT = 4096
"""Tile grid of every MVT layer."""

_LAYER_VERSION = b"\x78\x02"  # field 15 (version), varint 2
_LAYER_EXTENT = b"\x28\x80\x20"  # field 5 (extent), varint 4096
_FEATURE, _ID, _TAGS, _TYPE, _GEOMETRY = 18, 8, 18, 24, 34  # field keys (number << 3 | wire)
_POLYGON = 3


# --- varints -------------------------------------------------------------------------------------


def varint_sizes(values: np.ndarray) -> np.ndarray:
    """Bytes each non-negative integer takes as a varint."""
    v = np.asarray(values, dtype=np.uint64)
    sizes = np.ones(len(v), dtype=np.int64)
    if len(v) == 0:
        return sizes
    top = int(v.max())
    shift = 7
    while shift < 64 and top >> shift:
        sizes += v >= np.uint64(1 << shift)
        shift += 7
    return sizes


def pack_varints(values: np.ndarray, sizes: np.ndarray | None = None) -> np.ndarray:
    """Varint-encode many non-negative integers into one byte array (uint8)."""
    v = np.asarray(values, dtype=np.uint64)
    sizes = varint_sizes(v) if sizes is None else sizes
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    pos = np.cumsum(sizes) - sizes
    while len(v):
        more = sizes > 1
        out[pos] = (v & np.uint64(0x7F)).astype(np.uint8) | (more.astype(np.uint8) << 7)
        v, pos, sizes = v[more] >> np.uint64(7), pos[more] + 1, sizes[more] - 1
    return out


def varint(value: int) -> bytes:
    """One non-negative integer as a varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint((number << 3) | 2) + varint(len(payload)) + payload


def zigzag(values: np.ndarray) -> np.ndarray:
    """Signed int64 to the unsigned zigzag form MVT uses for coordinates."""
    return (values << 1) ^ (values >> 63)


# --- ragged arrays -------------------------------------------------------------------------------


def ragged_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + n)`` for every start and length."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    return np.arange(total, dtype=np.int64) + np.repeat(np.asarray(starts) - (ends - lengths),
                                                        lengths)


def segment_sums(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Sums of consecutive segments of ``values`` with the given lengths (exact integers)."""
    edges = np.concatenate([[0], np.cumsum(lengths)])
    total = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
    return total[edges[1:]] - total[edges[:-1]]


@dataclass(frozen=True)
class Messages:
    """Encoded messages in one byte buffer: message ``i`` is ``data[offsets[i]:offsets[i+1]]``."""

    data: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_bytes(cls, items: list[bytes]) -> Messages:
        """Messages from a list of encoded byte strings."""
        sizes = np.fromiter((len(b) for b in items), dtype=np.int64, count=len(items))
        data = np.frombuffer(b"".join(items), dtype=np.uint8)
        return cls(data, np.concatenate([[0], np.cumsum(sizes)]))

    @classmethod
    def concat(cls, parts: list[Messages]) -> Messages:
        """Several buffers one after another (ids continue in order)."""
        offsets, data, base = [np.zeros(1, dtype=np.int64)], [], 0
        for part in parts:
            offsets.append(part.offsets[1:] + base)
            data.append(part.data)
            base += len(part.data)
        return cls(np.concatenate(data) if data else np.empty(0, np.uint8),
                   np.concatenate(offsets))

    def gather(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The bytes of messages ``ids`` one after another, and each one's length."""
        lengths = self.offsets[ids + 1] - self.offsets[ids]
        return self.data[ragged_ranges(self.offsets[ids], lengths)], lengths


# --- attributes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tags:
    """Per feature its (key id, value id) pairs: feature ``i`` has pairs
    ``offsets[i]:offsets[i+1]`` of ``keys`` and ``values``."""

    offsets: np.ndarray
    keys: np.ndarray
    values: np.ndarray


def _value_ids(column: pd.Series) -> tuple[str, np.ndarray, np.ndarray]:
    """A column's kind (str, float, int or bool), its non-empty rows and their values."""
    kind = column.dtype.kind
    if kind == "b" or str(column.dtype) == "boolean":
        mask = column.notna().to_numpy()
        return "bool", mask, column[mask].to_numpy(dtype=np.int64)
    if kind in "iu" or str(column.dtype) in {"Int8", "Int16", "Int32", "Int64", "UInt8",
                                               "UInt16", "UInt32", "UInt64"}:
        mask = column.notna().to_numpy()
        return "int", mask, column[mask].to_numpy(dtype=np.int64)
    if kind == "f" or str(column.dtype) in {"Float32", "Float64"}:
        mask = column.notna().to_numpy()
        return "float", mask, column[mask].to_numpy(dtype=np.float64)
    values = column.to_numpy(dtype=object, na_value=None)
    mask = ~pd.isna(values)
    mask[mask] = np.asarray(values[mask] != "", dtype=bool)
    chosen = np.empty(int(mask.sum()), dtype=object)
    chosen[:] = [str(v) for v in values[mask]]
    return "str", mask, chosen


def _str_messages(values: np.ndarray) -> Messages:
    """String values (field 4 of a layer: a value message with string_value, field 1)."""
    encoded = [v.encode("utf-8") for v in values]
    size = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    head = np.empty((len(size), 4), dtype=np.int64)
    head[:, 0], head[:, 1], head[:, 2], head[:, 3] = 0x22, 1 + varint_sizes(size) + size, 0x0A, size
    head_sizes = varint_sizes(head.ravel())
    head_len = head_sizes.reshape(-1, 4).sum(axis=1)
    total = head_len + size
    start = np.cumsum(total) - total
    out = np.empty(int(total.sum()), dtype=np.uint8)
    out[ragged_ranges(start, head_len)] = pack_varints(head.ravel(), head_sizes)
    out[ragged_ranges(start + head_len, size)] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return Messages(out, np.concatenate([[0], np.cumsum(total)]))


def _float_messages(values: np.ndarray) -> Messages:
    out = np.empty((len(values), 11), dtype=np.uint8)
    out[:, :3] = (0x22, 9, 0x19)  # value message of 9 bytes: field 3 (double), 8 bytes
    out[:, 3:] = values.astype("<f8").view(np.uint8).reshape(-1, 8)
    return Messages(out.ravel(), np.arange(len(values) + 1, dtype=np.int64) * 11)


def _int_messages(values: np.ndarray, *, boolean: bool = False) -> Messages:
    """Non-negative ints as uint_value (field 5), negative as sint_value (field 6)."""
    negative = values < 0
    payload = np.where(negative, zigzag(values), values)
    key = np.where(negative, (6 << 3), (5 << 3))
    if boolean:
        key[:] = 7 << 3
    stream = np.empty((len(values), 4), dtype=np.int64)
    stream[:, 0] = 0x22
    stream[:, 1] = 1 + varint_sizes(payload)
    stream[:, 2] = key
    stream[:, 3] = payload
    sizes = varint_sizes(stream.ravel())
    per_message = sizes.reshape(-1, 4).sum(axis=1)
    return Messages(pack_varints(stream.ravel(), sizes),
                    np.concatenate([[0], np.cumsum(per_message)]))


class LayerAttributes:
    """One level's attribute table, encoded once: the key and value messages of the whole
    level and, per feature, its tags as ids into them (two sets: ``tags`` for every zoom,
    ``detail`` with the extra columns of maxzoom). Empty values are left out of a feature.
    A tile keeps only the keys and values its features use (renumbered in id order), so
    every tile stays a self-contained MVT layer."""

    def __init__(self, table: pd.DataFrame, detail_columns: set[str]) -> None:
        kinds: dict[str, list[tuple[int, np.ndarray, np.ndarray]]] = {
            "str": [], "float": [], "int": [], "bool": []}
        for col_no, name in enumerate(table.columns):
            kind, mask, values = _value_ids(table[name])
            kinds[kind].append((col_no, mask, values))
        ids = np.full((len(table), len(table.columns)), -1, dtype=np.int64)
        parts, base = [], 0
        for kind, columns in kinds.items():
            if not columns:
                continue
            values = np.concatenate([v for _, _, v in columns])
            if kind == "str":
                codes, uniques = pd.factorize(values, sort=True)
                uniques = np.asarray(uniques, dtype=object)
                parts.append(_str_messages(uniques))
            else:
                uniques, codes = np.unique(values, return_inverse=True)
                parts.append(_float_messages(uniques) if kind == "float"
                             else _int_messages(uniques, boolean=kind == "bool"))
            start = 0
            for col_no, mask, column_values in columns:
                ids[mask, col_no] = codes[start:start + len(column_values)] + base
                start += len(column_values)
            base += len(uniques)
        self.values = Messages.concat(parts)
        self.keys = Messages.from_bytes([_field(3, str(k).encode("utf-8")) for k in table.columns])
        self.key_count = len(table.columns)
        self.value_count = base
        every = np.array([c not in detail_columns for c in table.columns], dtype=bool)
        self.tags = self._tags(ids, every)
        self.detail = self._tags(ids, np.ones(len(table.columns), dtype=bool))

    @staticmethod
    def _tags(ids: np.ndarray, columns: np.ndarray) -> Tags:
        chosen = np.where(columns[None, :], ids, -1)
        rows, cols = np.nonzero(chosen >= 0)
        counts = np.bincount(rows, minlength=len(ids))
        return Tags(np.concatenate([[0], np.cumsum(counts)]), cols.astype(np.int64),
                    chosen[rows, cols])


# --- layers --------------------------------------------------------------------------------------


_DENSE_RENUMBER = 1 << 23
"""Up to this many (tile, id) pairs ``_renumber`` marks them in an array instead of sorting."""


def _renumber(tile: np.ndarray, ids: np.ndarray, count: int, tiles: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per tile, the ids used (sorted) and each id's rank among them.

    Returns the used ids, their tile, and the rank of every input id within its tile.
    """
    combined = tile * count + ids
    if tiles * count <= _DENSE_RENUMBER:  # a mark per (tile, id) instead of a sort
        present = np.zeros(tiles * count, dtype=bool)
        present[combined] = True
        used = np.flatnonzero(present)
        inverse = (np.cumsum(present) - 1)[combined]
    else:
        used, inverse = np.unique(combined, return_inverse=True)
    first = np.searchsorted(used, np.arange(tiles, dtype=np.int64) * count)
    return used % count, used // count, inverse - first[tile]


def encode_layers(
    name: str,
    attrs: LayerAttributes,
    tags: Tags,
    tile: np.ndarray,
    area: np.ndarray,
    commands: np.ndarray,
    command_counts: np.ndarray,
    tiles: int,
) -> dict[int, bytes]:
    """One MVT layer (tile field 3, ready to concatenate) for each tile of a batch.

    Features are given sorted by ``tile`` (0..tiles-1) then ``area`` (the row in ``attrs``);
    each has ``command_counts`` geometry integers, concatenated in ``commands``.
    """
    if len(tile) == 0:
        return {}
    # tags: the features' (key, value) pairs, renumbered within each tile
    lens = tags.offsets[area + 1] - tags.offsets[area]
    pick = ragged_ranges(tags.offsets[area], lens)
    tag_tile = np.repeat(tile, lens)
    used_keys, key_tile, local_keys = _renumber(tag_tile, tags.keys[pick], attrs.key_count, tiles)
    used_values, value_tile, local_values = _renumber(
        tag_tile, tags.values[pick], max(attrs.value_count, 1), tiles)
    tag_ints = np.empty(2 * len(pick), dtype=np.int64)
    tag_ints[0::2], tag_ints[1::2] = local_keys, local_values
    tag_sizes = varint_sizes(tag_ints)
    command_sizes = varint_sizes(commands)
    tag_len = segment_sums(tag_sizes, 2 * lens)
    geom_len = segment_sums(command_sizes, command_counts)
    ids = area.astype(np.int64) + 1
    body = (1 + varint_sizes(ids) + 1 + varint_sizes(tag_len) + tag_len + 3
            + varint_sizes(geom_len) + geom_len)
    # the features as one varint stream: [18, len, 8, id, 18, taglen, tags…, 24, 3, 34,
    # geomlen, commands…] each
    seg = 10 + 2 * lens + command_counts
    start = np.cumsum(seg) - seg
    stream = np.empty(int(seg.sum()), dtype=np.int64)
    stream[start] = _FEATURE
    stream[start + 1] = body
    stream[start + 2] = _ID
    stream[start + 3] = ids
    stream[start + 4] = _TAGS
    stream[start + 5] = tag_len
    tail = start + 6 + 2 * lens
    stream[tail] = _TYPE
    stream[tail + 1] = _POLYGON
    stream[tail + 2] = _GEOMETRY
    stream[tail + 3] = geom_len
    stream[ragged_ranges(start + 6, 2 * lens)] = tag_ints
    stream[ragged_ranges(tail + 4, command_counts)] = commands
    features = pack_varints(stream)
    feature_end = np.cumsum(1 + varint_sizes(body) + body)
    key_bytes, key_lens = attrs.keys.gather(used_keys)
    value_bytes, value_lens = attrs.values.gather(used_values)
    name_field = _field(1, name.encode("utf-8"))
    feature_edges = np.concatenate([[0], feature_end])
    tile_first = np.searchsorted(tile, np.arange(tiles + 1))
    key_edges = np.concatenate([[0], np.cumsum(key_lens)])[np.searchsorted(key_tile,
                                                                         np.arange(tiles + 1))]
    value_edges = np.concatenate([[0], np.cumsum(value_lens)])[
        np.searchsorted(value_tile, np.arange(tiles + 1))]
    out = {}
    for t in np.unique(tile).tolist():
        payload = b"".join((
            _LAYER_VERSION, name_field,
            features[feature_edges[tile_first[t]]:feature_edges[tile_first[t + 1]]].tobytes(),
            key_bytes[key_edges[t]:key_edges[t + 1]].tobytes(),
            value_bytes[value_edges[t]:value_edges[t + 1]].tobytes(),
            _LAYER_EXTENT,
        ))
        out[t] = _field(3, payload)
    return out
