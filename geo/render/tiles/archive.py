"""Reading a PMTiles archive: one memory map, directories parsed once, tiles by z/x/y.

``PMTilesArchive(path)`` is self-contained and cheap to construct (a memory map, the
127-byte header, the root directory and the metadata; leaf directories are parsed on first
use and kept in a small LRU of their own). Whoever holds one decides how long it lives:
``close()`` or a ``with`` block releases the map, otherwise the garbage collector does.

``open_archive(path)`` is a thin convenience for callers that open by path on every request:
a small LRU of at most ``max_open`` archives (``MAX_OPEN_ARCHIVES``), one per path, checked
against the file's inode, mtime and size on every call, so a rebuilt file (written beside
and moved into place) is reopened on the next call without a restart. Archives that fall out
of it, or are replaced, are not closed: a request still reading one keeps a valid map, and
the garbage collector releases it afterwards. A service that wants its own policy (size,
eviction, statistics) keeps ``PMTilesArchive`` objects in its own cache instead.
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
from types import TracebackType
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

HEADER_SIZE = 127
"""Bytes of a PMTiles v3 header."""
LEAF_DIRECTORIES = 256
"""Parsed leaf directories each archive keeps (least recently used dropped first)."""
MAX_OPEN_ARCHIVES = 16
"""Archives ``open_archive`` keeps open, one per path (a service serves a few geographies)."""


class PMTilesArchive:
    """A PMTiles archive on disk with its directories parsed once (the pmtiles package
    re-parses them for every tile, ~5 ms; this keeps lookups in microseconds)."""

    def __init__(self, path: Path, *, leaf_directories: int = LEAF_DIRECTORIES) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as fh:
            stat = os.fstat(fh.fileno())
            self.size = stat.st_size
            if self.size < HEADER_SIZE:
                raise BuildError(f"{self.path}: not a PMTiles v3 archive (only {self.size} bytes)")
            self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        # what identifies the file mapped; open_archive compares it with the path's stat
        self.key = (str(self.path), stat.st_ino, stat.st_mtime_ns, stat.st_size)
        try:
            self.header = deserialize_header(self._map[:HEADER_SIZE])
        except (MagicNumberNotFound, SpecVersionUnsupported, ValueError) as exc:
            self._map.close()
            raise BuildError(f"{self.path}: not a PMTiles v3 archive ({exc!r})") from exc
        h = self.header
        self.minzoom = int(h["min_zoom"])
        self.maxzoom = int(h["max_zoom"])
        self.compression = h["tile_compression"]
        self._root = deserialize_directory(self._slice(h["root_offset"], h["root_length"]))
        self._leaves: OrderedDict[int, list[Entry]] = OrderedDict()
        self._max_leaves = leaf_directories
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
            while len(self._leaves) > self._max_leaves:
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

    def positions(self) -> Iterator[tuple[int, int, int]]:
        """Yield ``(tile id, offset in the file, length)`` of every addressed tile, without
        reading tile bytes (a server's flat index of the archive)."""

        def walk(entries: list[Entry]) -> Iterator[tuple[int, int, int]]:
            base = self.header["tile_data_offset"]
            for entry in entries:
                if entry.run_length == 0:
                    yield from walk(self._leaf(entry.offset, entry.length))
                    continue
                for i in range(entry.run_length):
                    yield entry.tile_id + i, base + entry.offset, entry.length

        yield from walk(self._root)

    def close(self) -> None:
        """Release the memory map."""
        self._map.close()

    def __enter__(self) -> PMTilesArchive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


_OPEN: OrderedDict[str, PMTilesArchive] = OrderedDict()
_OPEN_LOCK = threading.Lock()


def open_archive(path: Path, *, max_open: int = MAX_OPEN_ARCHIVES) -> PMTilesArchive:
    """Return the open archive of ``path`` from a small LRU of ``max_open`` archives; a rebuilt
    file (new inode, mtime or size) is reopened, so the service picks up a rebuild without
    restarting.

    Raises:
        NotFoundError: no file at ``path``.
        BuildError: the file is not a PMTiles v3 archive.
    """
    path = Path(path)
    name = str(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        with _OPEN_LOCK:
            _OPEN.pop(name, None)
        raise NotFoundError(f"no tiles at {path}") from None
    key = (name, stat.st_ino, stat.st_mtime_ns, stat.st_size)
    with _OPEN_LOCK:
        cached = _OPEN.get(name)
        if cached is not None and cached.key == key:
            _OPEN.move_to_end(name)
            return cached
    # opened outside the lock, so opening one archive never holds up requests for others
    archive = PMTilesArchive(path)
    with _OPEN_LOCK:
        cached = _OPEN.get(name)
        if cached is not None and cached.key == archive.key:
            return cached  # another thread opened the same file meanwhile
        _OPEN[name] = archive
        _OPEN.move_to_end(name)
        while len(_OPEN) > max_open:
            _OPEN.popitem(last=False)
    return archive
