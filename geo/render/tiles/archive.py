"""Reading a PMTiles archive: one memory map, directories parsed once, tiles by z/x/y.

``open_archive(path)`` keeps one open archive per path for the service and reopens it when
the file changes.
"""

from __future__ import annotations

import gzip
import json
import mmap
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pmtiles.tile import (
    Compression,
    Entry,
    MagicNumberNotFound,
    SpecVersionUnsupported,
    deserialize_directory,
    deserialize_header,
    find_tile,
    tileid_to_zxy,
    zxy_to_tileid,
)

from geo.errors import BuildError, NotFoundError


class PMTilesArchive:
    """A PMTiles archive on disk with its directories parsed once (the pmtiles package
    re-parses them for every tile, ~5 ms; this keeps lookups in microseconds)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            stat = os.fstat(fh.fileno())
            self.size = stat.st_size
            if self.size < 127:
                raise BuildError(f"{self.path}: not a PMTiles v3 archive (only {self.size} bytes)")
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        self.key = (str(self.path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        try:
            self.header = deserialize_header(self._map[:127])
        except (MagicNumberNotFound, SpecVersionUnsupported, ValueError) as exc:
            raise BuildError(f"{self.path}: not a PMTiles v3 archive ({exc!r})") from exc
        h = self.header
        self.minzoom = int(h["min_zoom"])
        self.maxzoom = int(h["max_zoom"])
        self.compression = h["tile_compression"]
        self._root = deserialize_directory(self._slice(h["root_offset"], h["root_length"]))
        self._leaves: OrderedDict[int, list[Entry]] = OrderedDict()
        self._lock = threading.Lock()
        raw = self._slice(h["metadata_offset"], h["metadata_length"])
        if h["internal_compression"] == Compression.GZIP:
            raw = gzip.decompress(raw)
        self.metadata: dict[str, Any] = json.loads(raw)

    def _slice(self, offset: int, length: int) -> bytes:
        return self._map[offset: offset + length]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """West, south, east, north in degrees."""
        h = self.header
        return (h["min_lon_e7"] / 1e7, h["min_lat_e7"] / 1e7, h["max_lon_e7"] / 1e7,
                h["max_lat_e7"] / 1e7)

    @property
    def center(self) -> tuple[float, float, int]:
        """Longitude, latitude and zoom of the header's centre."""
        h = self.header
        return h["center_lon_e7"] / 1e7, h["center_lat_e7"] / 1e7, int(h["center_zoom"])

    def _leaf(self, offset: int, length: int) -> list[Entry]:
        with self._lock:
            entries = self._leaves.get(offset)
            if entries is not None:
                self._leaves.move_to_end(offset)
                return entries
        h = self.header
        entries = deserialize_directory(self._slice(h["leaf_directory_offset"] + offset, length))
        with self._lock:
            self._leaves[offset] = entries
            while len(self._leaves) > 256:
                self._leaves.popitem(last=False)
        return entries

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """Return the stored (still compressed) bytes of one tile, or None if it is empty."""
        n = 1 << z
        if not (0 <= x < n and 0 <= y < n):
            return None
        tile_id = zxy_to_tileid(z, x, y)
        directory = self._root
        for _ in range(4):
            entry = find_tile(directory, tile_id)
            if entry is None:
                return None
            if entry.run_length > 0:
                return self._slice(self.header["tile_data_offset"] + entry.offset, entry.length)
            directory = self._leaf(entry.offset, entry.length)
        return None

    def read(self, start: int, length: int) -> bytes:
        """Return raw archive bytes (for HTTP range requests)."""
        return self._slice(start, length)

    def tiles(self) -> Iterator[tuple[int, int, int, bytes]]:
        """Yield every addressed tile as ``(z, x, y, stored bytes)``."""

        def walk(entries: list[Entry]) -> Iterator[tuple[int, int, int, bytes]]:
            for entry in entries:
                if entry.run_length == 0:
                    yield from walk(self._leaf(entry.offset, entry.length))
                    continue
                data = self._slice(self.header["tile_data_offset"] + entry.offset, entry.length)
                for i in range(entry.run_length):
                    yield (*tileid_to_zxy(entry.tile_id + i), data)

        yield from walk(self._root)

    def close(self) -> None:
        """Release the memory map."""
        self._map.close()


_ARCHIVES: dict[str, PMTilesArchive] = {}
_ARCHIVES_LOCK = threading.Lock()


def open_archive(path: Path) -> PMTilesArchive:
    """Return a cached archive for ``path``; a rebuilt file (new inode, mtime or size) is
    reopened on the next call, so the service picks up a rebuild without restarting."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise NotFoundError(f"no tiles at {path}") from None
    key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _ARCHIVES.get(str(path))
    if cached is not None and cached.key == key:
        return cached
    with _ARCHIVES_LOCK:
        cached = _ARCHIVES.get(str(path))
        if cached is not None and cached.key == key:
            return cached
        archive = PMTilesArchive(path)
        # the old map stays valid for requests still holding it; the GC closes it
        _ARCHIVES[str(path)] = archive
        return archive
